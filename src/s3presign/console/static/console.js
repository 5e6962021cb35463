// The s3presign console. No framework, no build step.
//
// The page holds the secret key (and any SSE-C key) in this closure only. For each
// request it asks the console's server for the library's unsigned form (URL,
// headers, canonical request or string to sign, or the library's refusal), then
// signs it here with WebCrypto. So the rules are the library's and the secrets
// never leave the page.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const enc = new TextEncoder();
  const MiB = 1024 * 1024;
  const state = { config: null, creds: null, cell: { mode: "none", version: "v4" }, link: null, keyCache: new Map() };

  // --- small helpers ------------------------------------------------------------
  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
  const b64 = (bytes) => { let s = ""; for (const b of bytes) s += String.fromCharCode(b); return btoa(s); };
  const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const el = (tag, attrs = {}, ...kids) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") node.textContent = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const kid of kids) node.append(kid);
    return node;
  };
  const say = (id, text, bad = false) => { const n = $(id); n.textContent = text; n.classList.toggle("error", bad); };
  const sizeText = (n) => n < 1024 ? `${n} B` : n < MiB ? `${(n / 1024).toFixed(1)} KiB` : `${(n / MiB).toFixed(1)} MiB`;

  async function api(path, body) {
    const resp = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body || {}) });
    const data = await resp.json();
    if (!resp.ok) throw new Error(data.error ? data.error.message : resp.statusText);
    return data;
  }

  function s3Error(status, body) {
    const doc = new DOMParser().parseFromString(body || "", "application/xml");
    const code = doc.querySelector("Error > Code"), msg = doc.querySelector("Error > Message");
    return code ? `${status} ${code.textContent}: ${msg ? msg.textContent : ""}` : `HTTP ${status}`;
  }

  // --- signing (WebCrypto) --------------------------------------------------------
  async function hmac(key, msg, hash = "SHA-256") {
    const raw = typeof key === "string" ? enc.encode(key) : key;
    const k = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash }, false, ["sign"]);
    return new Uint8Array(await crypto.subtle.sign("HMAC", k, enc.encode(msg)));
  }
  async function signingKey(date, region) {
    const id = `${date}/${region}`;
    if (!state.keyCache.has(id)) {
      let k = await hmac("AWS4" + state.creds.secret, date);
      for (const part of [region, "s3", "aws4_request"]) k = await hmac(k, part);
      state.keyCache.set(id, k);
    }
    return state.keyCache.get(id);
  }

  // The SSE-C key: 32 bytes, from the field (generated here with WebCrypto, or pasted).
  function customerKey() {
    const text = $("ssec-key").value.trim();
    let key;
    try { key = unb64(text); } catch (e) { key = null; }
    if (!key || key.length !== 32) throw new Error("SSE-C needs a 32-byte key: press \u201cGenerate with WebCrypto\u201d or paste one as base64");
    return { key: b64(key), md5: b64(md5(key)) };
  }
  const KEY_HEADER = "x-amz-server-side-encryption-customer-key";
  const MD5_HEADER = "x-amz-server-side-encryption-customer-key-md5";

  // Sign one answer of /api/sign; returns {method, url, headers (all to send), fields?, curl}.
  async function sign(r) {
    const real = (r.key_placeholders || (r.required_headers || []).length || (r.required_fields || []).some((n) => n.includes("customer-key"))) ? customerKey() : null;
    const fix = (s) => (r.key_placeholders && s) ? s.split(r.key_placeholders.key).join(real.key).split(r.key_placeholders.md5).join(real.md5) : s;
    const out = { method: r.method, version: r.signature_version, expires_at: r.expires_at, headers: {} };
    for (const [k, v] of Object.entries(r.headers || {})) out.headers[k] = fix(v);
    if (r.form) {
      const fields = {};
      for (const [k, v] of Object.entries(r.fields)) fields[k] = fix(v);
      if (r.key_placeholders) fields.policy = btoa(fix(atob(r.fields.policy)));
      if (r.signature_version === "v4") fields["x-amz-signature"] = hex(await hmac(await signingKey(r.scope_date, r.region), fields.policy));
      else fields.signature = b64(await hmac(state.creds.secret, fields.policy, "SHA-1"));
      for (const name of r.required_fields || []) {
        if (name === KEY_HEADER) fields[name] = real.key;
        else if (name === MD5_HEADER) fields[name] = real.md5;
      }
      out.url = r.url;
      out.fields = fields;
      out.curl = ["curl --fail-with-body", ...Object.entries(fields).map(([k, v]) => `-F '${k}=${v}'`), "-F file=@FILE", `'${r.url}'`].join(" ");
      return out;
    }
    let placeholder, signature;
    if (r.signature_version === "v4") {
      const cr = fix(r.canonical_request);
      const digest = hex(await crypto.subtle.digest("SHA-256", enc.encode(cr)));
      const sts = ["AWS4-HMAC-SHA256", r.amz_date, `${r.scope_date}/${r.region}/s3/aws4_request`, digest].join("\n");
      signature = hex(await hmac(await signingKey(r.scope_date, r.region), sts));
      placeholder = r.url.slice(r.url.lastIndexOf("X-Amz-Signature=") + 16);
      out.url = r.url.slice(0, r.url.length - placeholder.length) + signature;
    } else {
      placeholder = r.signature_placeholder;
      signature = encodeURIComponent(b64(await hmac(state.creds.secret, r.string_to_sign, "SHA-1")));
      out.url = r.url.replace("Signature=" + placeholder, "Signature=" + signature);
    }
    for (const name of r.required_headers || []) out.headers[name] = name === KEY_HEADER ? real.key : real.md5;
    out.curl = r.curl ? fix(r.curl).split(placeholder).join(signature) : "";
    if (real && r.curl) out.curl = out.curl.split("$SSE_C_KEY_MD5_B64").join(real.md5).split("$SSE_C_KEY_B64").join(real.key);
    return out;
  }

  // Shape (server: the library) then sign (here) a list of request descriptions.
  async function prepare(specs) {
    if (!specs.length) return [];
    const token = state.creds.token || undefined;
    const data = await api("/api/sign", { access_key: state.creds.access, requests: specs.map((s) => ({ session_token: token, ...s })) });
    return Promise.all(data.results.map(async (r) => (r.ok ? { ok: true, shaped: r, signed: await sign(r) } : { ok: false, error: r.error })));
  }
  async function prepareOne(spec) {
    const [r] = await prepare([spec]);
    if (!r.ok) throw new Error(r.error);
    return r.signed;
  }
  async function relay(signed, extra = {}) {
    return api("/api/relay", { url: signed.url, method: signed.method, headers: signed.headers, ...extra });
  }

  // XHR for upload progress; resolves with {status, etag, text, xhr}.
  function send(method, url, headers, body, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      for (const [k, v] of Object.entries(headers || {})) xhr.setRequestHeader(k, v);
      if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded, e.total);
      xhr.onload = () => resolve({ status: xhr.status, etag: xhr.getResponseHeader("etag"), text: xhr.responseText, xhr });
      xhr.onerror = () => reject(new Error(`${method} failed: the browser refused or lost the request (CORS? TLS?)`));
      // A body's own type would become an unsigned (SigV2: signed) Content-Type: send only the signed one.
      if (typeof body === "string") body = new Blob([body]);
      else if (body instanceof Blob && !Object.keys(headers || {}).some((k) => k.toLowerCase() === "content-type")) body = body.slice(0, body.size, "");
      xhr.send(body === undefined ? null : body);
    });
  }

  // --- the SSE x signature table --------------------------------------------------
  function sseSpec(mode) {
    const keyId = $("kms-key").value.trim();
    return { mode, key_id: (mode === "kms" || mode === "dsse") && keyId ? keyId : undefined };
  }
  async function renderTable() {
    const method = $("method").value;
    const rows = state.config.table;
    const specs = [];
    for (const row of rows) for (const version of ["v4", "v2"])
      specs.push({ method, bucket: $("link-bucket").value || "example-bucket", key: "example-key", sse: { mode: row.mode }, signature_version: version });
    // Shaping needs no key; c-key's check uses the library's placeholder key.
    const data = await api("/api/sign", { access_key: state.creds ? state.creds.access : "AKIDEXAMPLE", requests: specs });
    const body = $("sse-table").tBodies[0];
    body.replaceChildren();
    rows.forEach((row, i) => {
      const tr = el("tr", {}, el("th", { scope: "row", text: `${row.label} (${row.mode})` }));
      ["v4", "v2"].forEach((version, j) => {
        const result = data.results[i * 2 + j];
        const td = el("td");
        if (result.ok) {
          const chosen = state.cell.mode === row.mode && state.cell.version === version;
          td.append(el("button", {
            type: "button", "data-mode": row.mode, "data-version": version, "aria-pressed": String(chosen),
            text: chosen ? "chosen" : "choose", onclick: () => choose(row.mode, version),
            "aria-label": `${row.label} with Signature Version ${version[1]}`,
          }));
        } else {
          td.className = "refused";
          td.append(el("strong", { text: "refused: " }), el("span", { class: "reason", "data-mode": row.mode, "data-version": version, text: result.error }));
        }
        tr.append(td);
      });
      body.append(tr);
    });
    const rule = rows.find((r) => r.mode === state.cell.mode);
    say("cell-choice", `Chosen: ${rule ? rule.label : state.cell.mode}, Signature Version ${state.cell.version[1]}`);
    $("ssec-row").hidden = !state.cell.mode.startsWith("c");
  }
  function choose(mode, version) { state.cell = { mode, version }; renderTable(); }

  // --- sign in, buckets, objects -------------------------------------------------
  async function signIn(event) {
    event.preventDefault();
    state.creds = { access: $("access-key").value.trim(), secret: $("secret-key").value, token: $("session-token").value.trim() };
    state.keyCache.clear();
    $("secret-key").value = "";
    say("signin-status", "checking…");
    try {
      const buckets = await listBuckets();
      say("signin-status", `Signed in as ${state.creds.access} (${buckets.length} bucket${buckets.length === 1 ? "" : "s"})`);
      for (const id of ["browse", "links", "upload", "signout"]) $(id).hidden = false;
      $("signin-form").hidden = true;
      await renderTable();
    } catch (e) {
      state.creds = null;
      say("signin-status", `Sign-in failed: ${e.message}`, true);
    }
  }
  function signOut() {
    state.creds = null;
    state.keyCache.clear();
    for (const id of ["browse", "links", "upload", "signout"]) $(id).hidden = true;
    $("signin-form").hidden = false;
    say("signin-status", "Signed out: the page no longer holds your secret key.");
  }

  async function listBuckets() {
    const signed = await prepareOne({ method: "GET", bucket: "", key: "" });
    const resp = await relay(signed);
    if (resp.status !== 200) throw new Error(s3Error(resp.status, resp.body));
    const doc = new DOMParser().parseFromString(resp.body, "application/xml");
    const names = Array.from(doc.querySelectorAll("Bucket > Name"), (n) => n.textContent);
    const select = $("bucket-select");
    const previous = select.value;
    select.replaceChildren(...names.map((n) => el("option", { text: n, value: n })));
    if (names.includes(previous)) select.value = previous;
    if (!$("link-bucket").value && names.length) $("link-bucket").value = names[0];
    const cors = Object.entries(resp.cors || {}).map(([b, s]) => `${b}: ${s}`).join("; ");
    say("cors-status", cors ? `CORS for this console's origin: ${cors}` : "");
    if (names.length) await listObjects();
    return names;
  }

  async function listObjects() {
    const bucket = $("bucket-select").value;
    const body = $("objects").tBodies[0];
    body.replaceChildren();
    if (!bucket) return;
    const signed = await prepareOne({ method: "GET", bucket, key: "", query: { "list-type": "2", "max-keys": "200" } });
    const resp = await relay(signed);
    if (resp.status !== 200) { body.append(el("tr", {}, el("td", { colspan: "5", text: s3Error(resp.status, resp.body) }))); return; }
    const doc = new DOMParser().parseFromString(resp.body, "application/xml");
    const objects = Array.from(doc.querySelectorAll("Contents"), (c) => ({
      key: c.querySelector("Key").textContent, size: +c.querySelector("Size").textContent, etag: c.querySelector("ETag").textContent,
    }));
    const heads = await prepare(objects.slice(0, 50).map((o) => ({ method: "HEAD", bucket, key: o.key, expires_in: 300 })));
    objects.forEach((o, i) => {
      const sse = el("td", { text: i < 50 ? "…" : "-" });
      const download = el("button", { type: "button", text: "Download", onclick: () => pickForDownload(bucket, o.key) });
      body.append(el("tr", {}, el("td", { text: o.key }), el("td", { text: sizeText(o.size) }), el("td", { text: o.etag }), sse, el("td", {}, download)));
      if (i < 50 && heads[i].ok) {
        fetch(heads[i].signed.url, { method: "HEAD", headers: heads[i].signed.headers }).then((r) => {
          if (r.status === 400) sse.textContent = "SSE-C (needs its key)";
          else sse.textContent = r.headers.get("x-amz-server-side-encryption") || (r.ok ? "none" : `HTTP ${r.status}`);
          const kms = r.headers.get("x-amz-server-side-encryption-aws-kms-key-id");
          if (kms) sse.textContent += ` (${kms})`;
        }).catch(() => { sse.textContent = "?"; });
      }
    });
  }
  function pickForDownload(bucket, key) {
    $("link-bucket").value = bucket;
    $("link-key").value = key;
    $("method").value = "GET";
    renderTable();
    $("link-form").scrollIntoView();
    $("make-link").focus();
  }

  // --- one link -----------------------------------------------------------------
  function linkSpec() {
    const method = $("method").value;
    const spec = {
      method, bucket: $("link-bucket").value.trim(), key: $("link-key").value, sse: sseSpec(state.cell.mode),
      signature_version: state.cell.version, expires_in: parseInt($("expires").value, 10),
    };
    const type = $("content-type").value.trim();
    if (method === "PUT" && type) spec.headers = { "content-type": type };
    if (method === "POST" && type) spec.fields = { "Content-Type": type };
    if (state.cell.mode === "none") delete spec.sse;
    return spec;
  }
  async function makeLink(event) {
    if (event) event.preventDefault();
    say("link-error", "");
    $("link-result").hidden = true;
    say("link-use-status", "");
    const [r] = await prepare([linkSpec()]).catch((e) => [{ ok: false, error: e.message }]);
    if (!r.ok) { say("link-error", `Refused: ${r.error}`, true); state.link = null; return; }
    state.link = r.signed;
    $("link-url").value = r.signed.url;
    say("link-expiry", `Signature Version ${r.signed.version[1]}; expires ${r.signed.expires_at || "?"}`);
    const headers = r.signed.fields ? Object.entries(r.signed.fields).map(([k, v]) => `${k} = ${v}`) :
      Object.entries(r.signed.headers).map(([k, v]) => `${k}: ${v}`);
    $("link-headers").textContent = headers.length ? (r.signed.fields ? "Form fields (before the file):\n" : "") + headers.join("\n") : "none besides Host";
    $("link-curl").textContent = r.signed.curl;
    $("link-result").hidden = false;
  }
  async function useLink() {
    const link = state.link;
    if (!link) return;
    const file = $("link-file").files[0];
    try {
      if (link.method === "PUT" || link.method === "POST") {
        if (!file) throw new Error("choose a file to send");
        say("link-use-status", "sending…");
        const resp = link.fields ? await sendForm(link, file) : await send("PUT", link.url, link.headers, file);
        if (resp.status >= 300) throw new Error(s3Error(resp.status, resp.text));
        say("link-use-status", `${link.method} ${resp.status}: stored ${file.size} bytes, ETag ${resp.etag}`);
      } else if (link.method === "GET") {
        const resp = await fetch(link.url, { headers: link.headers });
        if (!resp.ok) throw new Error(s3Error(resp.status, await resp.text()));
        const blob = await resp.blob();
        save(blob, $("link-key").value.split("/").pop() || "download");
        say("link-use-status", `GET ${resp.status}: ${blob.size} bytes, SSE ${resp.headers.get("x-amz-server-side-encryption") || (link.headers[MD5_HEADER] ? "SSE-C" : "none")}`);
      } else {
        const resp = await fetch(link.url, { method: link.method, headers: link.headers });
        if (resp.status >= 300) throw new Error(s3Error(resp.status, await resp.text()));
        say("link-use-status", `${link.method} ${resp.status}` + (link.method === "HEAD" ? `: ${resp.headers.get("content-length")} bytes` : ""));
      }
    } catch (e) {
      say("link-use-status", `Failed: ${e.message}`, true);
    }
  }
  function sendForm(link, file, onProgress) {
    const form = new FormData();
    for (const [k, v] of Object.entries(link.fields)) form.append(k, v.replace("${filename}", file.name));
    form.append("file", file, file.name);
    return send("POST", link.url, {}, form, onProgress);
  }
  function save(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  // --- uploads -------------------------------------------------------------------
  function uploadFiles(files) {
    for (const file of files) uploadOne(file);
  }
  async function uploadOne(file) {
    const way = $("upload-way").value;
    const bucket = $("link-bucket").value.trim() || $("bucket-select").value;
    const key = $("upload-prefix").value + file.name;
    const bar = el("progress", { max: String(file.size || 1), value: "0", "aria-label": `upload of ${file.name}` });
    const status = el("span", { class: "status", text: "starting" });
    const item = el("li", { "data-name": file.name }, el("span", { class: "name", text: `${file.name} (${sizeText(file.size)}) → ${bucket}/${key}` }), bar, status);
    $("upload-list").append(item);
    const progress = (n) => { bar.value = n; status.textContent = `${Math.floor((100 * n) / (file.size || 1))}%`; };
    try {
      let result;
      if (way === "multipart") result = await multipart(file, bucket, key, progress, status);
      else {
        const spec = { bucket, key, sse: sseSpec(state.cell.mode), signature_version: state.cell.version };
        if (state.cell.mode === "none") delete spec.sse;
        if (way === "post") { spec.method = "POST"; spec.fields = { "Content-Type": file.type || "application/octet-stream" }; }
        else { spec.method = "PUT"; spec.headers = { "content-type": file.type || "application/octet-stream" }; }
        const link = await prepareOne(spec);
        const resp = link.fields ? await sendForm(link, file, (n) => progress(Math.min(n, file.size))) : await send("PUT", link.url, link.headers, file, progress);
        if (resp.status >= 300) throw new Error(s3Error(resp.status, resp.text));
        result = resp.etag;
      }
      progress(file.size);
      status.textContent = `done, ETag ${result}`;
      item.dataset.state = "done";
      listObjects().catch(() => {});
    } catch (e) {
      status.textContent = `failed: ${e.message}`;
      item.dataset.state = "failed";
      status.classList.add("error");
    }
  }

  // Multipart: the upload id is kept in localStorage (never a key), so a reload can
  // resume: choose the same file again and only the missing parts are sent.
  async function multipart(file, bucket, key, progress, status) {
    const partSize = Math.max(5, parseInt($("part-size").value, 10) || 5) * MiB;
    const count = Math.max(1, Math.ceil(file.size / partSize));
    const id = `s3presign-upload:${bucket}/${key}:${file.name}:${file.size}:${file.lastModified}`;
    const sse = state.cell.mode === "none" ? undefined : sseSpec(state.cell.mode);
    const version = state.cell.version;
    const done = new Map();
    let saved = JSON.parse(localStorage.getItem(id) || "null");
    if (saved && saved.partSize === partSize) {
      const list = await prepareOne({ method: "GET", bucket, key, query: { uploadId: saved.uploadId }, signature_version: version });
      const resp = await fetch(list.url, { headers: list.headers });
      const text = await resp.text();
      if (resp.ok) {
        const doc = new DOMParser().parseFromString(text, "application/xml");
        for (const p of doc.querySelectorAll("Part")) {
          const n = +p.querySelector("PartNumber").textContent, size = +p.querySelector("Size").textContent;
          if (size === Math.min(partSize, file.size - (n - 1) * partSize)) done.set(n, p.querySelector("ETag").textContent);
        }
        status.textContent = `resuming upload ${saved.uploadId}: ${done.size} of ${count} parts already stored`;
      } else saved = null;
    } else saved = null;
    if (!saved) {
      const create = await prepareOne({ method: "POST", bucket, key, query: { uploads: "" }, sse, signature_version: version,
        headers: { "content-type": file.type || "application/octet-stream" } });
      const resp = await send("POST", create.url, create.headers);
      if (resp.status !== 200) throw new Error(s3Error(resp.status, resp.text));
      const uploadId = new DOMParser().parseFromString(resp.text, "application/xml").querySelector("UploadId").textContent;
      saved = { uploadId, partSize };
      localStorage.setItem(id, JSON.stringify(saved));
    }
    item(status).dataset.uploadId = saved.uploadId;
    const todo = [];
    for (let n = 1; n <= count; n++) if (!done.has(n)) todo.push(n);
    const signed = await prepare(todo.map((n) => ({ method: "PUT", bucket, key, sse, signature_version: version, query: { partNumber: String(n), uploadId: saved.uploadId } })));
    const sent = new Map();
    let base = 0;
    for (const n of done.keys()) base += Math.min(partSize, file.size - (n - 1) * partSize);
    const report = () => { let s = base; for (const v of sent.values()) s += v; progress(s); };
    report();
    const queue = todo.map((n, i) => [n, signed[i]]);
    const worker = async () => {
      while (queue.length) {
        const [n, r] = queue.shift();
        if (!r.ok) throw new Error(r.error);
        const blob = file.slice((n - 1) * partSize, Math.min(file.size, n * partSize));
        const resp = await send("PUT", r.signed.url, r.signed.headers, blob, (loaded) => { sent.set(n, loaded); report(); });
        if (resp.status !== 200) throw new Error(`part ${n}: ${s3Error(resp.status, resp.text)}`);
        sent.set(n, blob.size);
        done.set(n, resp.etag);
        item(status).dataset.parts = String(done.size);
        report();
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    const body = "<CompleteMultipartUpload>" + Array.from(done.keys()).sort((a, b) => a - b)
      .map((n) => `<Part><PartNumber>${n}</PartNumber><ETag>${done.get(n)}</ETag></Part>`).join("") + "</CompleteMultipartUpload>";
    const complete = await prepareOne({ method: "POST", bucket, key, sse, signature_version: version, query: { uploadId: saved.uploadId } });
    const resp = await send("POST", complete.url, complete.headers, body);
    const doc = new DOMParser().parseFromString(resp.text, "application/xml");
    if (resp.status !== 200 || doc.querySelector("Error")) throw new Error(s3Error(resp.status, resp.text));
    localStorage.removeItem(id);
    return doc.querySelector("ETag").textContent;
  }
  const item = (child) => child.closest("li");

  // --- inspect -------------------------------------------------------------------
  async function inspect(event) {
    event.preventDefault();
    const out = $("inspect-out");
    out.textContent = "…";
    try {
      const data = await api("/api/inspect", { url: $("inspect-url").value, method: $("inspect-method").value || undefined });
      out.textContent = data.ok ? data.text : `Not a pre-signed URL: ${data.error}`;
    } catch (e) { out.textContent = `Failed: ${e.message}`; }
  }

  // --- wiring --------------------------------------------------------------------
  async function generateKey() {
    const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt"]);
    $("ssec-key").value = b64(new Uint8Array(await crypto.subtle.exportKey("raw", key)));
  }
  async function start() {
    state.config = await api("/api/config");
    say("endpoint", `Endpoint ${state.config.endpoint} (region ${state.config.region})`);
    $("signin-form").addEventListener("submit", signIn);
    $("signout").addEventListener("click", signOut);
    $("refresh").addEventListener("click", () => listBuckets().catch((e) => say("cors-status", e.message, true)));
    $("bucket-select").addEventListener("change", () => { $("link-bucket").value = $("bucket-select").value; listObjects(); });
    $("method").addEventListener("change", renderTable);
    $("link-form").addEventListener("submit", makeLink);
    $("link-use").addEventListener("click", useLink);
    $("ssec-generate").addEventListener("click", generateKey);
    $("inspect-form").addEventListener("submit", inspect);
    const drop = $("drop"), input = $("upload-files");
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); uploadFiles(e.dataTransfer.files); });
    drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
    input.addEventListener("change", () => { uploadFiles(input.files); input.value = ""; });
    document.body.dataset.ready = "true";
    performance.mark("console-ready");
  }
  start().catch((e) => say("endpoint", `The console could not start: ${e.message}`, true));
})();
