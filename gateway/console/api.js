// Cairn console: the session (an S3 key and/or the admin token, kept in this
// tab's sessionStorage only), signed S3 requests through the console's /s3/
// prefix (XMLHttpRequest, for upload progress), the admin API under /api/, and
// errors in plain words (the S3 error document's Code and Message, the admin
// API's error and message).
"use strict";

const Api = (() => {
  const STORE = "cairn-console-session";
  let config = { region: "us-east-1", admin: false, cluster: false, sample_interval_s: 10 };
  let session = JSON.parse(sessionStorage.getItem(STORE) || "null") || {};

  class ApiError extends Error {
    constructor(code, message, status) {
      super(message ? `${code}: ${message}` : code);
      this.code = code;
      this.detail = message;
      this.status = status;
    }
  }

  async function loadConfig() {
    const r = await fetch("/config.json", { cache: "no-store" });
    if (r.ok) config = await r.json();
    return config;
  }

  const hasKey = () => !!(session.accessKey && session.secretKey);
  const hasToken = () => !!session.token;
  function save(s) {
    session = s;
    sessionStorage.setItem(STORE, JSON.stringify(s));
  }
  function logout() {
    session = {};
    sessionStorage.removeItem(STORE);
  }
  const creds = () => ({ accessKey: session.accessKey, secretKey: session.secretKey, region: config.region });

  // The path S3 sees (signed) for a bucket and key.
  function s3Path(bucket, key) {
    let p = "/";
    if (bucket) {
      p += Sig.uriEncode(bucket);
      if (key != null) p += "/" + Sig.uriEncode(key, true);
    }
    return p;
  }

  const xml = (text) => new DOMParser().parseFromString(text || "<x/>", "application/xml");
  const tag = (node, name) => {
    const el = node.getElementsByTagName(name)[0];
    return el ? el.textContent : "";
  };
  const tags = (node, name) => Array.from(node.getElementsByTagName(name));

  const STATUS_WORDS = {
    400: "BadRequest", 403: "AccessDenied", 404: "NotFound", 405: "MethodNotAllowed",
    409: "Conflict", 412: "PreconditionFailed", 500: "InternalError", 503: "ServiceUnavailable",
  };

  function s3Error(status, text) {
    const doc = xml(text);
    const code = tag(doc, "Code");
    if (code) return new ApiError(code, tag(doc, "Message"), status);
    return new ApiError(STATUS_WORDS[status] || `HTTP ${status}`, status === 0 ? "the server did not answer" : "", status);
  }

  // One signed S3 request. o = {query: [[k, v]], headers: {}, body (string or Blob),
  // onProgress(loaded, total), responseType}. Resolves {status, text, doc, xhr}.
  function s3(method, bucket, key, o = {}) {
    const path = s3Path(bucket, key);
    const query = o.query || [];
    let payloadHash = Sig.EMPTY_HASH;
    if (typeof o.body === "string") payloadHash = Sig.hex(Sig.sha256(o.body));
    else if (o.body != null) payloadHash = "UNSIGNED-PAYLOAD";
    const headers = Sig.sign(creds(), {
      method, path, query, headers: o.headers || {}, host: location.host, payloadHash,
    });
    const qs = Sig.canonicalQuery(query);
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open(method, "/s3" + path + (qs ? "?" + qs : ""));
      for (const [n, v] of Object.entries(headers)) x.setRequestHeader(n, v);
      if (o.responseType) x.responseType = o.responseType;
      if (o.onProgress) x.upload.onprogress = (e) => o.onProgress(e.loaded, e.total);
      x.onload = () => {
        const text = x.responseType === "" || x.responseType === "text" ? x.responseText : "";
        if (x.status >= 200 && x.status < 300) {
          resolve({ status: x.status, text, doc: xml(text), xhr: x });
        } else {
          reject(s3Error(x.status, text));
        }
      };
      x.onerror = () => reject(new ApiError("NetworkError", "the request did not reach the server", 0));
      x.onabort = () => reject(new ApiError("Aborted", "the request was cancelled", 0));
      if (o.xhr) o.xhr(x);
      x.send(o.body == null ? null : o.body);
    });
  }

  // A presigned GET URL (absolute) of an object, valid `secs` seconds.
  function presignGet(bucket, key, secs, extraQuery) {
    const path = s3Path(bucket, key);
    const qs = Sig.presign(creds(), { method: "GET", path, query: extraQuery || [], host: location.host }, secs);
    return `${location.protocol}//${location.host}/s3${path}?${qs}`;
  }

  // The admin API: a JSON request with the token.
  async function admin(method, path, body) {
    let r;
    try {
      r = await fetch("/api/v1" + path, {
        method,
        headers: Object.assign(
          { authorization: "Bearer " + (session.token || "") },
          body ? { "content-type": "application/json" } : {},
        ),
        body: body ? JSON.stringify(body) : undefined,
        cache: "no-store",
      });
    } catch (e) {
      throw new ApiError("NetworkError", "the request did not reach the server", 0);
    }
    const text = await r.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    if (!r.ok) {
      if (r.status === 401) throw new ApiError("Unauthorized", "the admin token is wrong", 401);
      throw new ApiError((data && data.error) || `HTTP ${r.status}`, (data && data.message) || text, r.status);
    }
    return data;
  }

  async function history() {
    const r = await fetch("/history.json", { cache: "no-store" });
    if (!r.ok) throw new ApiError(`HTTP ${r.status}`, "cannot read the metrics history", r.status);
    return r.json();
  }

  return {
    ApiError, loadConfig, config: () => config, session: () => session, hasKey, hasToken, save,
    logout, s3, s3Path, presignGet, admin, history, xml, tag, tags,
  };
})();
