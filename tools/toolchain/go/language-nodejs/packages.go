package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

type pulumiPackage struct{ name, version, server string }

type packageJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Pulumi  struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

func readPackageJSON(path string) (packageJSON, error) {
	var p packageJSON
	b, err := os.ReadFile(path)
	if err != nil {
		return p, err
	}
	return p, json.Unmarshal(b, &p)
}

// findPulumiPackages walks node_modules below dir (nested node_modules included) for
// packages that declare a resource plugin, and returns each name@version once.
func findPulumiPackages(dir string) ([]pulumiPackage, error) {
	seen := map[string]pulumiPackage{}
	var walk func(nodeModules string) error
	walk = func(nodeModules string) error {
		entries, err := os.ReadDir(nodeModules)
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		for _, e := range entries {
			if st, err := os.Stat(filepath.Join(nodeModules, e.Name())); err != nil || !st.IsDir() {
				continue // files such as .package-lock.json, and dangling links
			}
			pkgDirs := []string{filepath.Join(nodeModules, e.Name())}
			if strings.HasPrefix(e.Name(), "@") {
				scoped, err := os.ReadDir(pkgDirs[0])
				if err != nil {
					continue
				}
				pkgDirs = pkgDirs[:0]
				for _, s := range scoped {
					pkgDirs = append(pkgDirs, filepath.Join(nodeModules, e.Name(), s.Name()))
				}
			}
			for _, pd := range pkgDirs {
				if p, err := readPackageJSON(filepath.Join(pd, "package.json")); err == nil && p.Pulumi.Resource {
					pkg := pulumiPackage{name: pluginName(p), version: pluginVersion(p), server: p.Pulumi.Server}
					if pkg.name != "" && pkg.version != "v" {
						seen[pkg.name+"@"+pkg.version] = pkg
					}
				}
				if st, err := os.Stat(filepath.Join(pd, "node_modules")); err == nil && st.IsDir() {
					if err := walk(filepath.Join(pd, "node_modules")); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	if err := walk(filepath.Join(dir, "node_modules")); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]pulumiPackage, 0, len(keys))
	for _, k := range keys {
		out = append(out, seen[k])
	}
	return out, nil
}

func pluginName(p packageJSON) string {
	if p.Pulumi.Name != "" {
		return p.Pulumi.Name
	}
	if rest, ok := strings.CutPrefix(p.Name, "@pulumi/"); ok {
		return rest
	}
	return ""
}

func pluginVersion(p packageJSON) string {
	v := p.Pulumi.Version
	if v == "" {
		v = p.Version
	}
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	return v
}
