// SPDX-License-Identifier: MIT
// The client against a real bangerd (tests/integration/test_ts_client.sh starts it and sets
// the environment): over the unix socket, and over TCP with TLS 1.3 and tokens, an image is
// registered, a VM created, started, a command run in it, the events read, the VM deleted;
// and the refusals come back as problem documents with their code, status and field.
import assert from "node:assert/strict";
import { appendFileSync, readFileSync } from "node:fs";
import { after, test } from "node:test";
import { createBangerClient, type BangerClient, type BangerEvent, type Problem, type Schemas } from "../src/index.js";

function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === "") throw new Error(`${name} is not set (run tests/integration/test_ts_client.sh)`);
  return v;
}

const socketPath = env("BANGER_SOCKET");
const baseUrl = env("BANGER_TCP_URL");
const certFile = env("BANGER_CERT");
const fingerprint = env("BANGER_FP");
const kernel = env("BANGER_KERNEL");
const image = "tsimg";

const records = process.env["BANGER_RECORDS"] ?? "";

// Each exchange (but the event streams, which do not end) as a line of the record file that
// the contract check validates against openapi.yaml, in tests/integration/lib.sh's format.
function recorded(c: BangerClient): BangerClient {
  if (records === "") return c;
  c.api.use({
    async onResponse({ request, response }) {
      const ctype = response.headers.get("content-type") ?? "";
      if (ctype.startsWith("application/x-ndjson")) return undefined;
      const text = await response.clone().text();
      let body: unknown = null;
      try {
        body = text === "" ? null : JSON.parse(text);
      } catch {
        body = null;
      }
      const url = new URL(request.url);
      const headers = Object.fromEntries([...response.headers].map(([k, v]) => [k.toLowerCase(), v]));
      const line = { method: request.method, path: url.pathname + url.search, status: response.status, content_type: ctype, headers, body };
      appendFileSync(records, JSON.stringify(line) + "\n");
      return undefined;
    },
  });
  return c;
}

const local = recorded(createBangerClient({ socketPath }));

// A refusal: the status, the problem+json content type and the problem's members.
function expectProblem(
  r: { error?: unknown; response: Response },
  status: number,
  code: Problem["code"],
  field?: string,
): Problem {
  assert.equal(r.response.status, status, `status of ${JSON.stringify(r.error)}`);
  assert.match(r.response.headers.get("content-type") ?? "", /^application\/problem\+json/);
  const p = r.error as Problem;
  assert.equal(p.status, status);
  assert.equal(p.code, code);
  assert.equal(p.type, `urn:banger:problem:${code}`);
  assert.ok(p.detail.length > 0);
  if (field !== undefined) assert.equal(p.field, field);
  return p;
}

// Reads the stream from since=0 until `until` holds of what was read (the test's timeout
// bounds the wait), then stops, which closes the stream.
async function readEvents(c: BangerClient, until: (seen: BangerEvent[]) => boolean): Promise<BangerEvent[]> {
  const seen: BangerEvent[] = [];
  for await (const ev of c.events(0)) {
    seen.push(ev);
    if (until(seen)) break;
  }
  return seen;
}

// create, start, one-shot exec, events, a duplicate, exec when stopped, delete.
async function lifecycle(c: BangerClient, name: string): Promise<void> {
  const created = await c.api.POST("/v1/vms", { body: { name, image, vcpus: 1, memory_mib: 256 } });
  assert.equal(created.response.status, 201, JSON.stringify(created.error));
  assert.equal(created.response.headers.get("location"), `/v1/vms/${name}`);
  assert.equal(created.data?.name, name);
  assert.equal(created.data?.image, image);

  const dup = await c.api.POST("/v1/vms", { body: { name, image } });
  expectProblem(dup, 409, "vm_exists");

  const started = await c.api.POST("/v1/vms/{name}/start", { params: { path: { name } } });
  assert.equal(started.response.status, 200, JSON.stringify(started.error));
  assert.equal(started.data?.state, "running");

  const ran = await c.api.POST("/v1/vms/{name}/exec", {
    params: { path: { name } },
    body: { cmd: ["sh", "-c", 'echo "out $GREETING"; echo err >&2; exit 3'], env: { GREETING: "hi" } },
  });
  assert.equal(ran.response.status, 200, JSON.stringify(ran.error));
  assert.equal(ran.data?.exit_code, 3);
  assert.equal(ran.data?.signal, null);
  assert.equal(ran.data?.stdout, "out hi\n");
  assert.equal(ran.data?.stderr, "err\n");
  assert.equal(ran.data?.timed_out, false);
  assert.match(ran.data?.id ?? "", /^exec-[0-9a-f]{16}$/);
  const shown = await c.api.GET("/v1/execs/{id}", { params: { path: { id: ran.data?.id ?? "" } } });
  assert.equal(shown.response.status, 200, JSON.stringify(shown.error));

  const subject = `/v1/vms/${name}`;
  const running = (e: BangerEvent) =>
    e.subject === subject && (e.data as { state?: string }).state === "running";
  const seen = await readEvents(c, (s) => s.some(running));
  assert.ok(seen.some((e) => e.type === "vm.created" && e.subject === subject), "a vm.created event");
  for (let i = 1; i < seen.length; i++) {
    assert.ok((seen[i]?.seq ?? 0) > (seen[i - 1]?.seq ?? 0), "seq increases");
  }

  const stopped = await c.api.POST("/v1/vms/{name}/stop", { params: { path: { name } } });
  assert.ok(stopped.response.status < 300, JSON.stringify(stopped.error));
  const late = await c.api.POST("/v1/vms/{name}/exec", { params: { path: { name } }, body: { cmd: ["true"] } });
  expectProblem(late, 409, "vm_not_running");

  const deleted = await c.api.DELETE("/v1/vms/{name}", { params: { path: { name } } });
  assert.equal(deleted.response.status, 204, JSON.stringify(deleted.error));
  const gone = await c.api.GET("/v1/vms/{name}", { params: { path: { name } } });
  const p = expectProblem(gone, 404, "vm_not_found");
  assert.equal(p.instance, subject);
}

// 404 and 400s that do not depend on a VM.
async function refusals(c: BangerClient): Promise<void> {
  const missing = await c.api.POST("/v1/vms/{name}/exec", {
    params: { path: { name: "no-such-vm" } },
    body: { cmd: ["true"] },
  });
  const p = expectProblem(missing, 404, "vm_not_found");
  assert.match(p.detail, /no-such-vm/);

  const unknown = await c.api.POST("/v1/vms", {
    // a member VmCreate does not have, past the types as a foreign caller would send it
    body: { name: "ts-bad", colour: "red" } as Schemas["VmCreate"],
  });
  expectProblem(unknown, 400, "unknown_field", "colour");

  const vcpus = await c.api.POST("/v1/vms", { body: { name: "ts-bad", image, vcpus: 0 } });
  expectProblem(vcpus, 400, "invalid_field", "vcpus");

  const noCmd = await c.api.POST("/v1/vms/{name}/exec", {
    params: { path: { name: "no-such-vm" } },
    // @ts-expect-error cmd is required
    body: {},
  });
  expectProblem(noCmd, 400, "missing_field", "cmd");
}

test("over the unix socket", { timeout: 60_000 }, async (t) => {
  await t.test("the daemon answers", async () => {
    const v = await local.api.GET("/v1/system/version");
    assert.equal(v.response.status, 200);
    assert.equal(v.response.headers.get("banger-api-version"), "1");
    assert.equal(v.data?.api_version, "v1");
  });

  await t.test("register an image", async () => {
    const made = await local.api.POST("/v1/images", { body: { name: image, kernel } });
    assert.equal(made.response.status, 202, JSON.stringify(made.error));
    const id = made.data?.id ?? "";
    assert.equal(made.response.headers.get("location"), `/v1/operations/${id}`);
    const op = await local.api.GET("/v1/operations/{id}", { params: { path: { id }, query: { wait: 30 } } });
    assert.equal(op.data?.state, "succeeded", JSON.stringify(op.data));
    const img = await local.api.GET("/v1/images/{name}", { params: { path: { name: image } } });
    assert.equal(img.data?.state, "ready");
    const again = await local.api.POST("/v1/images", { body: { name: image, kernel } });
    expectProblem(again, 409, "image_exists", "name");
  });

  await t.test("create, start, exec, events, delete", () => lifecycle(local, "ts-sock"));
  await t.test("refusals", () => refusals(local));
});

test("over TCP with TLS 1.3 and a token", { timeout: 60_000 }, async (t) => {
  const mint = async (name: string, scopes: ("read" | "write" | "exec" | "admin")[]) => {
    const r = await local.api.POST("/v1/tokens", { body: { name, scopes } });
    assert.equal(r.response.status, 201, JSON.stringify(r.error));
    assert.match(r.data?.secret ?? "", /^bgr_[a-z2-7]{12}_[a-z2-7]{52}$/);
    return r.data?.secret ?? "";
  };
  const runner = await mint("ts-runner", ["read", "write", "exec"]);
  const reader = await mint("ts-reader", ["read"]);
  const ca = readFileSync(certFile);
  const remote = recorded(createBangerClient({ baseUrl, token: runner, ca }));
  const pinned = recorded(createBangerClient({ baseUrl, token: reader, fingerprint }));
  // an id that exists with a wrong secret, and an id that does not
  const forger = recorded(createBangerClient({ baseUrl, token: runner.replace(/_[a-z2-7]+$/, `_${"a".repeat(52)}`), ca }));
  const stranger = recorded(createBangerClient({ baseUrl, token: `bgr_${"a".repeat(12)}_${"a".repeat(52)}`, ca }));
  t.after(() => Promise.all([remote.close(), pinned.close(), forger.close(), stranger.close()]));

  await t.test("the certificate, trusted by its file or pinned by its fingerprint", async () => {
    const v = await remote.api.GET("/v1/system/version");
    assert.equal(v.response.status, 200, JSON.stringify(v.error));
    const w = await pinned.api.GET("/v1/vms");
    assert.equal(w.response.status, 200, JSON.stringify(w.error));
    const wrong = createBangerClient({ baseUrl, token: reader, fingerprint: "00".repeat(32) });
    try {
      await assert.rejects(wrong.api.GET("/v1/vms"), (e: Error) => {
        assert.match(String((e.cause as Error | undefined)?.message ?? e.message), /not the pinned 0{64}/);
        return true;
      });
    } finally {
      await wrong.close();
    }
    assert.throws(() => createBangerClient({ baseUrl, token: reader }), /ca\) or its fingerprint/);
  });

  await t.test("401 without a token, with a wrong secret, with an unknown id", async () => {
    const none = await remote.api.GET("/v1/vms", { headers: { Authorization: null } });
    expectProblem(none, 401, "unauthorized");
    assert.match(none.response.headers.get("www-authenticate") ?? "", /^Bearer/);
    const forged = await forger.api.GET("/v1/vms");
    const f = expectProblem(forged, 401, "unauthorized");
    const unknown = await stranger.api.GET("/v1/vms");
    const u = expectProblem(unknown, 401, "unauthorized");
    assert.match(unknown.response.headers.get("www-authenticate") ?? "", /^Bearer/);
    assert.equal(f.detail, u.detail, "a 401 never tells whether a token exists");
  });

  await t.test("403 for a scope the token lacks, and for a host path over TCP", async () => {
    const exec = await pinned.api.POST("/v1/vms/{name}/exec", {
      params: { path: { name: "no-such-vm" } },
      body: { cmd: ["true"] },
    });
    const p = expectProblem(exec, 403, "insufficient_scope");
    assert.match(p.detail, /'exec' scope/);
    const create = await pinned.api.POST("/v1/vms", { body: { name: "ts-nope", image } });
    assert.match(expectProblem(create, 403, "insufficient_scope").detail, /'write' scope/);
    const img = await remote.api.POST("/v1/images", { body: { name: "ts-far", kernel } });
    expectProblem(img, 403, "local_only");
  });

  await t.test("create, start, exec, events, delete", () => lifecycle(remote, "ts-tcp"));
  await t.test("refusals", () => refusals(remote));
  await t.test("the reader reads the events", async () => {
    const seen = await readEvents(pinned, (s) => s.some((e) => e.type === "vm.deleted" && e.subject === "/v1/vms/ts-tcp"));
    assert.ok(seen.length > 0);
  });
});

after(() => local.close());
