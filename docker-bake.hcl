# The one description of slipway's project images: targets, build args and tags.
#   CI (buildx):  docker buildx bake --file docker-bake.hcl [dev|prod|abrupt|edge]   (docker/bake-action)
#   here:         tools/images.sh reads this file through tools/bake.ts (this engine has no buildx) and runs
#                 the same builds with the legacy builder; `npm run dev` builds `dev` the same way.
# Variables are overridden by environment variables of the same name (as bake does).
# Keep to the subset tools/bake.ts understands: variable blocks with a string default, group/target
# blocks, string / list / map attributes, "${VAR}" interpolation and `inherits`.

variable "TAG" {
  # e.g. the 12-character git SHA (tools/images.sh's default)
  default = "local"
}
variable "GIT_SHA" {
  # the full git SHA: every image also gets a sha-<GIT_SHA> tag
  default = "unknown"
}
variable "APP_VERSION" {
  default = "dev"
}
variable "API_REPO" {
  default = "slipway/api"
}
variable "EDGE_REPO" {
  default = "slipway/edge"
}
# Base images: the official ones by default; tools/images.sh passes the images/local stand-ins.
variable "NODE_IMAGE" {
  default = "node:20-bookworm-slim"
}
variable "HAPROXY_IMAGE" {
  default = "haproxy:3.0"
}
variable "POSTGRES_IMAGE" {
  default = "postgres:17-bookworm"
}
# "true" keeps the test-only routes (GET|POST /slow) in the API image: tools/images.sh's local test images and the
# benchmarks need them; the production image (CI's push) is built without them.
variable "TEST_ROUTES" {
  default = "false"
}
variable "POSTGRES_REPO" {
  default = "slipway/postgres"
}

group "default" {
  targets = ["prod", "edge"]
}

# Everything the CI pushes and the tests run.
group "all" {
  targets = ["prod", "abrupt", "edge", "dev", "postgres"]
}

target "_api" {
  context    = "."
  dockerfile = "images/api/Dockerfile"
  args = {
    NODE_IMAGE = "${NODE_IMAGE}"
  }
}

# Development: dependencies only, source mounted at run time (npm run dev).
target "dev" {
  inherits = ["_api"]
  target   = "dev"
  tags     = ["${API_REPO}:dev"]
}

target "prod" {
  inherits = ["_api"]
  target   = "prod"
  args = {
    APP_VERSION = "${APP_VERSION}"
    TEST_ROUTES = "${TEST_ROUTES}"
  }
  tags = ["${API_REPO}:${TAG}", "${API_REPO}:sha-${GIT_SHA}"]
}

# Test-only variant of prod that exits at once on SIGTERM (with /slow, the request its tests hold open).
target "abrupt" {
  inherits = ["prod"]
  args = {
    SHUTDOWN_MODE = "abrupt"
    TEST_ROUTES   = "true"
  }
  tags = ["${API_REPO}:${TAG}-abrupt", "${API_REPO}:sha-${GIT_SHA}-abrupt"]
}

target "edge" {
  context    = "."
  dockerfile = "images/edge/Dockerfile"
  args = {
    HAPROXY_IMAGE = "${HAPROXY_IMAGE}"
  }
  tags = ["${EDGE_REPO}:${TAG}", "${EDGE_REPO}:sha-${GIT_SHA}"]
}

# PostgreSQL + pgBackRest (backup.wal.enabled). Its tag names the PostgreSQL major, not the git SHA: a new
# commit must not replace a stack's database container on a routine deploy.
target "postgres" {
  context    = "images/postgres"
  dockerfile = "Dockerfile"
  args = {
    POSTGRES_IMAGE = "${POSTGRES_IMAGE}"
  }
  tags = ["${POSTGRES_REPO}:17-pgbackrest"]
}
