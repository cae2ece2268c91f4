// Tests of the edge pieces that need no Docker: the haproxy.cfg renderer, the runtime-API parsers (against
// output captured from HAProxy 2.6: three slots, one without address, one drained, one down) and the tar builder.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { renderHaproxyConfig } from "../../src/edge/haproxy-config";
import { parseServersState, parseStat, setServerStateCommand, setWeightsCommand } from "../../src/edge/runtime-api";
import { firstFileOfTar, tarOneFile } from "../../src/docker";
import { passwdOwner } from "../../src/edge/proxy";

const SERVERS_STATE = `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 api 1 api1 - 0 32 1 1 3 1 0 0 14 0 0 0 localhost 3999 - 0 0 - - 0
3 api 11 static1 127.0.0.1 2 8 1 1 0 15 3 2 6 0 0 0 - 3999 - 0 0 - - 0
3 api 12 static2 127.0.0.1 0 0 1 1 2 8 2 0 6 0 0 0 - 3998 - 0 0 - - 0
`;

const STAT = `# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,
api,api1,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT (resolution),1,1,0,0,1,7,7,,1,3,1,,0,,2,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,,,,,,,,,,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,0,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,
api,static1,0,0,1,1,,1,0,0,,0,,0,0,0,0,UP,1,1,0,0,0,1,3,,1,3,11,,1,,2,1,,1,L7OK,200,1,0,0,0,0,0,0,,,,0,0,0,,,,,1,,,0,0,0,0,,,,Layer7 check passed,,1,2,2,,,,127.0.0.1:3999,,http,,,,,,,,0,1,0,,,0,,0,0,0,0,0,0,0,1,2,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,
api,static2,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1,1,0,1,1,6,6,,1,3,12,,0,,2,0,,0,L4CON,,0,0,0,0,0,0,0,,,,0,0,0,,,,,-1,Connection refused,,0,0,0,0,,,,Layer4 connection problem,,1,2,0,,,,127.0.0.1:3998,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,
`;

describe("renderHaproxyConfig", () => {
  const cfg = renderHaproxyConfig({ backend: "api", serviceHost: "api", slots: 8 });
  const has = (line: string) => assert.ok(cfg.split("\n").some((l) => l.trim() === line), `missing "${line}" in\n${cfg}`);
  it("resolves replicas through Docker DNS into server-template slots", () => {
    has("nameserver dns 127.0.0.11:53");
    has("server-template api 8 api:3000");
    has("default-server inter 500ms fall 2 rise 1 check resolvers docker resolve-prefer ipv4 init-addr last,none");
    has("hold obsolete 10000ms");
    has("hold valid 1000ms");
  });
  it("gives a replica's readiness answer its own budget (not the 500 ms interval), configurable", () => {
    has("timeout check 5000ms");
    assert.match(renderHaproxyConfig({ backend: "api", serviceHost: "api", timeouts: { checkMs: 8000 } }), /^ {2}timeout check 8000ms$/m);
  });
  it("starts from the saved servers' state, so a reloaded or new HAProxy serves at once", () => {
    has("server-state-file /var/lib/haproxy/server-state");
    has("load-server-state-from-file global");
    has("option idle-close-on-response");
  });
  it("checks readiness (/up) and retries only connection failures, with redispatch", () => {
    has("option httpchk GET /up");
    has("retry-on conn-failure");
    has("retries 3");
    has("option redispatch");
    assert.doesNotMatch(cfg, /response-timeout|empty-response|retry-on all|l7-retry/);
  });
  it("listens on 8080 by default and exposes the admin socket only as a unix socket", () => {
    has("bind :8080");
    has("default_backend api");
    has("stats socket /var/run/haproxy/admin.sock mode 600 level admin");
    assert.doesNotMatch(cfg, /stats socket (ipv4@|\d|:)/);
  });
  it("takes options", () => {
    const c = renderHaproxyConfig({ backend: "web", serviceHost: "web.internal", servicePort: 8000, listenPort: 80, serverPrefix: "w", slots: 4, retries: 2, holdObsoleteMs: 3000 });
    for (const l of ["bind :80", "backend web", "server-template w 4 web.internal:8000", "retries 2", "hold obsolete 3000ms"]) {
      assert.ok(c.includes(l), l);
    }
  });
  it("refuses names that would break the config", () => {
    assert.throws(() => renderHaproxyConfig({ backend: "a b", serviceHost: "api" }), /backend "a b"/);
    assert.throws(() => renderHaproxyConfig({ backend: "api", serviceHost: "api", listenPort: 0 }), /listenPort/);
  });
});

describe("parseServersState", () => {
  const rows = parseServersState(SERVERS_STATE);
  it("reads every slot", () => assert.deepEqual(rows.map((r) => r.name), ["api1", "static1", "static2"]));
  it("a slot without address has addr null and resolution maint", () => {
    assert.deepEqual(rows[0], { backend: "api", id: 1, name: "api1", addr: null, opState: 0, adminState: 32, weight: 1, fullWeight: 1, port: 3999 });
  });
  it("a drained UP server: op 2, admin 8", () => {
    assert.equal(rows[1].addr, "127.0.0.1");
    assert.equal(rows[1].opState, 2);
    assert.equal(rows[1].adminState, 8);
  });
  it("errors on an answer that is not the state dump", () => {
    assert.throws(() => parseServersState("Can't find backend.\n"), /unexpected answer/);
  });
});

describe("setWeightsCommand", () => {
  it("one line, full weights first so there is never a moment with no server routed", () => {
    assert.equal(
      setWeightsCommand("api", [{ slot: "api1", weight: "idle" }, { slot: "api4", weight: "full" }]),
      "set weight api/api4 100%; set weight api/api1 0",
    );
  });
  it("refuses names that could carry another command", () => {
    assert.throws(() => setWeightsCommand("api", [{ slot: "api1; shutdown", weight: "idle" }]), /invalid slot name/);
  });
});

describe("parseStat", () => {
  const rows = parseStat(STAT);
  it("reads scur/qcur/status per server", () => {
    assert.deepEqual(rows.map((r) => [r.name, r.scur, r.qcur, r.status, r.addr]), [
      ["api1", 0, 0, "MAINT (resolution)", null],
      ["static1", 1, 0, "UP", "127.0.0.1"],
      ["static2", 0, 0, "DOWN", "127.0.0.1"],
    ]);
  });
  it("errors without a header", () => assert.throws(() => parseStat("No such server.\n"), /no header/));
});

describe("setServerStateCommand", () => {
  it("builds the command", () => assert.equal(setServerStateCommand("api", "api3", "drain"), "set server api/api3 state drain"));
  it("refuses anything that could smuggle another command", () => {
    assert.throws(() => setServerStateCommand("api", "api3; shutdown sessions", "drain"), /invalid slot/);
  });
});

describe("tarOneFile", () => {
  it("is a valid ustar archive with the file padded to 512-byte blocks", () => {
    const tar = tarOneFile("haproxy.cfg", "hello\n");
    assert.equal(tar.length, 512 + 512 + 1024);
    assert.equal(tar.subarray(0, 11).toString(), "haproxy.cfg");
    assert.equal(tar.subarray(257, 262).toString(), "ustar");
    assert.equal(tar.subarray(512, 518).toString(), "hello\n");
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : tar[i];
    assert.equal(parseInt(tar.subarray(148, 154).toString(), 8), sum);
  });
});

describe("the TLS key file's owner (0600, the edge container's user)", () => {
  it("a tar entry carries mode and numeric owner in its header; firstFileOfTar reads the content back", () => {
    const tar = tarOneFile("tls.pem", "KEY", 0o600, { uid: 99, gid: 98 });
    const field = (o: number, n: number) => parseInt(tar.subarray(o, o + n).toString("ascii"), 8);
    assert.deepEqual([field(100, 8), field(108, 8), field(116, 8)], [0o600, 99, 98]);
    assert.equal(firstFileOfTar(tar)?.toString(), "KEY");
  });
  it("passwdOwner: the user's uid and gid from the container's /etc/passwd, or an error naming the container", () => {
    const passwd = "root:x:0:0:root:/root:/bin/bash\nhaproxy:x:99:99:haproxy:/var/lib/haproxy:/usr/sbin/nologin\n";
    assert.deepEqual(passwdOwner(passwd, "haproxy", "edge-1"), { uid: 99, gid: 99 });
    assert.throws(() => passwdOwner(passwd, "nobody", "edge-1"), /edge edge-1: its user "nobody" is not in its \/etc\/passwd/);
  });
});
