// SPDX-License-Identifier: MIT
// A client for bangerd's REST API: the paths and schemas are generated from openapi.yaml
// (src/generated/openapi.ts, by `npm run generate`), the calls are openapi-fetch's, and the
// connection is undici's: the unix socket (the owner's path, no token) or TCP with TLS 1.3,
// a bearer token and the daemon's certificate trusted by its file (`ca`) or pinned by its
// SHA-256 fingerprint (as `GET /v1/system/info` shows it), or both.
import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import createClient, { type Client } from "openapi-fetch";
import { Agent, buildConnector, fetch as undiciFetch } from "undici";
import type { components, paths } from "./generated/openapi.js";

export type { components, paths };
export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];
export type BangerEvent = Schemas["Event"];

/** Over the unix socket: whoever can open it is the owner. */
export interface SocketOptions {
  socketPath: string;
}

/** Over TCP: TLS 1.3 only, a bearer token, and at least one of `ca` and `fingerprint`. */
export interface TlsOptions {
  /** `https://HOST:PORT` of the daemon's `listen_tcp`. */
  baseUrl: string;
  /** `bgr_<id>_<secret>` from `POST /v1/tokens`. */
  token: string;
  /** PEM certificate(s) to trust: the daemon's own self-signed one, say (host name checked). */
  ca?: string | Buffer;
  /** The SHA-256 of the server certificate's DER (hex, colons and case ignored): the
   * certificate must be exactly this one. Without `ca`, the pin is the only check. */
  fingerprint?: string;
}

export type BangerClientOptions = SocketOptions | TlsOptions;

export interface BangerClient {
  /** The typed openapi-fetch client: `api.GET("/v1/vms/{name}", {params: {path: {name}}})`. */
  api: Client<paths>;
  /** The events from `since` on (replayed, then followed), one per line of the stream, until
   * the caller stops iterating (which closes the stream). Throws the Problem of a refusal. */
  events(since?: number): AsyncGenerator<BangerEvent, void, undefined>;
  /** Closes every connection. */
  close(): Promise<void>;
}

/** A refusal as an exception: the problem document and the HTTP status. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(`${status} ${problem.code}: ${problem.detail}`);
    this.name = "ProblemError";
  }
}

function normalizeFingerprint(fp: string): string {
  const hex = fp.replace(/:/g, "").toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new TypeError(`fingerprint ${JSON.stringify(fp)} is not 64 hex digits (a SHA-256)`);
  }
  return hex;
}

function tlsAgent(opts: TlsOptions): Agent {
  if (opts.ca === undefined && opts.fingerprint === undefined) {
    throw new TypeError("a TLS client needs the daemon's certificate (ca) or its fingerprint");
  }
  const pin = opts.fingerprint === undefined ? undefined : normalizeFingerprint(opts.fingerprint);
  const connect = buildConnector({
    minVersion: "TLSv1.3",
    maxVersion: "TLSv1.3",
    ...(opts.ca === undefined ? { rejectUnauthorized: false } : { ca: opts.ca }),
  });
  return new Agent({
    connect(options, callback) {
      connect(options, (err, socket) => {
        if (err !== null || pin === undefined) {
          callback(err, socket as never);
          return;
        }
        const raw = (socket as TLSSocket).getPeerCertificate().raw;
        const got = raw === undefined ? "" : normalizeFingerprint(new X509Certificate(raw).fingerprint256);
        if (got !== pin) {
          socket.destroy();
          callback(new Error(`the server's certificate has fingerprint ${got || "(none)"}, not the pinned ${pin}`), null);
          return;
        }
        callback(null, socket);
      });
    },
  });
}

export function createBangerClient(opts: BangerClientOptions): BangerClient {
  const local = "socketPath" in opts;
  const dispatcher = local ? new Agent({ connect: { socketPath: opts.socketPath } }) : tlsAgent(opts);
  const baseUrl = local ? "http://localhost" : opts.baseUrl.replace(/\/+$/, "");
  if (!local && !baseUrl.startsWith("https://")) {
    throw new TypeError(`baseUrl ${JSON.stringify(opts.baseUrl)} is not https://HOST:PORT`);
  }
  // openapi-fetch builds a global Request; undici's own fetch takes its parts, with the
  // dispatcher that carries the socket or the TLS settings.
  const fetch = async (req: Request): Promise<Response> => {
    const body = req.body === null ? undefined : await req.arrayBuffer();
    const res = await undiciFetch(req.url, {
      method: req.method,
      headers: [...req.headers],
      ...(body === undefined ? {} : { body }),
      dispatcher,
    });
    return res as unknown as Response;
  };
  const api = createClient<paths>({
    baseUrl,
    fetch,
    ...(local ? {} : { headers: { Authorization: `Bearer ${opts.token}` } }),
  });

  async function* events(since?: number): AsyncGenerator<BangerEvent, void, undefined> {
    const { data, error, response } = await api.GET("/v1/events", {
      params: { query: since === undefined ? {} : { since } },
      parseAs: "stream",
    });
    if (error !== undefined) throw new ProblemError(response.status, error as Problem);
    if (data === undefined || data === null) throw new Error("the event stream has no body");
    const reader = (data as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += decoder.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line !== "") yield JSON.parse(line) as BangerEvent;
        }
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }

  return {
    api,
    events,
    close: () => dispatcher.destroy(),
  };
}
