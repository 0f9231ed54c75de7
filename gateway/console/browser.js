// Cairn console: the prefix browser of a bucket: folders and objects under a
// prefix (ListObjectsV2, delimiter "/"), upload (file picker or drag and drop,
// several files, a progress bar each, multipart above 16 MiB), download and
// share (presigned links), metadata and tags, delete.
"use strict";

const Browser = (() => {
  const h = (...a) => UI.h(...a);
  const SINGLE_MAX = 16 * 1024 * 1024;
  const PART = 8 * 1024 * 1024;
  const EXPIRIES = [["15 minutes", 900], ["1 hour", 3600], ["1 day", 86400], ["7 days", 604800]];

  const prefixHash = (bucket, prefix) =>
    "#/b/" + encodeURIComponent(bucket) + "/" + prefix.split("/").map(encodeURIComponent).join("/");

  async function putSingle(bucket, key, file, progress) {
    await Api.s3("PUT", bucket, key, {
      body: file,
      headers: { "content-type": file.type || "application/octet-stream" },
      onProgress: (loaded) => progress(loaded),
    });
  }

  async function putMultipart(bucket, key, file, progress) {
    const created = await Api.s3("POST", bucket, key, {
      query: [["uploads", ""]],
      headers: { "content-type": file.type || "application/octet-stream" },
    });
    const uploadId = Api.tag(created.doc, "UploadId");
    const parts = [];
    try {
      for (let n = 1, off = 0; off < file.size; n++, off += PART) {
        const r = await Api.s3("PUT", bucket, key, {
          query: [["partNumber", String(n)], ["uploadId", uploadId]],
          body: file.slice(off, Math.min(off + PART, file.size)),
          onProgress: (loaded) => progress(off + loaded),
        });
        parts.push(`<Part><PartNumber>${n}</PartNumber><ETag>${r.xhr.getResponseHeader("ETag")}</ETag></Part>`);
      }
      const body = `<CompleteMultipartUpload>${parts.join("")}</CompleteMultipartUpload>`;
      const done = await Api.s3("POST", bucket, key, { query: [["uploadId", uploadId]], body });
      const code = Api.tag(done.doc, "Code");
      if (code) throw new Api.ApiError(code, Api.tag(done.doc, "Message"), 200);
    } catch (e) {
      Api.s3("DELETE", bucket, key, { query: [["uploadId", uploadId]] }).catch(() => {});
      throw e;
    }
  }

  function upload(bucket, prefix, files, list, reload) {
    for (const file of files) {
      const key = prefix + (file.webkitRelativePath || file.name);
      const fill = h("div", { class: "fill" });
      const label = h("span", {}, `${key}: waiting`);
      const row = h("li", { class: "upload", "data-key": key }, h("div", { class: "bar" }, fill, label));
      list.append(row);
      const progress = (done) => {
        const f = file.size ? done / file.size : 1;
        fill.style.width = (f * 100).toFixed(1) + "%";
        label.textContent = `${key}: ${UI.bytes(done)} of ${UI.bytes(file.size)}`;
      };
      const put = file.size > SINGLE_MAX ? putMultipart : putSingle;
      put(bucket, key, file, progress)
        .then(() => {
          progress(file.size);
          row.classList.add("done");
          label.textContent = `${key}: uploaded (${UI.bytes(file.size)})`;
          reload();
        })
        .catch((e) => {
          row.classList.add("failed");
          label.textContent = `${key}: ${UI.error(e, `Uploading ${key}`)}`;
        });
    }
  }

  // The detail panel of one object: metadata, tags, share link.
  async function details(panel, bucket, key, reload) {
    panel.textContent = "";
    panel.hidden = false;
    const close = h("button", { type: "button", class: "link", onclick: () => (panel.hidden = true) }, "Close");
    panel.append(h("div", { class: "panel-head" }, h("h2", {}, key), close));
    const expiry = h("select", { id: "share-expiry" }, ...EXPIRIES.map(([t, s]) => h("option", { value: String(s) }, t)));
    const link = h("input", { id: "share-url", readonly: true, placeholder: "the link appears here" });
    const make = h("button", { id: "share-create", type: "button", class: "primary" }, "Create link");
    make.addEventListener("click", () => {
      link.value = Api.presignGet(bucket, key, Number(expiry.value));
      link.select();
    });
    const copy = h("button", { type: "button", onclick: () => navigator.clipboard && navigator.clipboard.writeText(link.value) }, "Copy");
    panel.append(h("h3", {}, "Share"), h("div", { class: "row-form" }, h("label", {}, "Valid for ", expiry), make), h("div", { class: "row-form" }, link, copy));
    const meta = h("dl", { id: "object-meta" });
    const tagsBox = h("textarea", { id: "object-tags", rows: "4", placeholder: "key=value, one a line" });
    const saveTags = h("button", { id: "save-tags", type: "button" }, "Save tags");
    panel.append(h("h3", {}, "Metadata"), meta, h("h3", {}, "Tags"), tagsBox, saveTags);
    saveTags.addEventListener("click", () => UI.act(saveTags, `Saving the tags of ${key}`, async () => {
      const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
      const tags = tagsBox.value.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
        const i = l.indexOf("=");
        const [k, v] = i < 0 ? [l, ""] : [l.slice(0, i), l.slice(i + 1)];
        return `<Tag><Key>${esc(k.trim())}</Key><Value>${esc(v.trim())}</Value></Tag>`;
      });
      await Api.s3("PUT", bucket, key, { query: [["tagging", ""]], body: `<Tagging><TagSet>${tags.join("")}</TagSet></Tagging>` });
      UI.notice(`Tags of ${key} saved.`);
    }));
    try {
      const r = await Api.s3("HEAD", bucket, key);
      const x = r.xhr;
      const rows = [["Size", UI.bytes(Number(x.getResponseHeader("Content-Length")))], ["Content type", x.getResponseHeader("Content-Type")],
        ["ETag", x.getResponseHeader("ETag")], ["Last modified", UI.time(x.getResponseHeader("Last-Modified"))],
        ["Version", x.getResponseHeader("x-amz-version-id")], ["Storage class", x.getResponseHeader("x-amz-storage-class")]];
      for (const line of x.getAllResponseHeaders().trim().split(/\r?\n/)) {
        const i = line.indexOf(":");
        if (line.toLowerCase().startsWith("x-amz-meta-")) rows.push([line.slice(11, i), line.slice(i + 1).trim()]);
      }
      for (const [k, v] of rows) if (v) meta.append(h("dt", {}, k), h("dd", {}, v));
      const t = await Api.s3("GET", bucket, key, { query: [["tagging", ""]] });
      tagsBox.value = Api.tags(t.doc, "Tag").map((el) => `${Api.tag(el, "Key")}=${Api.tag(el, "Value")}`).join("\n");
    } catch (e) {
      UI.error(e, `Reading ${key}`);
    }
    void reload;
  }

  function show(main, bucket, prefix, every) {
    const crumbs = h("nav", { class: "crumbs" }, h("a", { href: "#/buckets" }, "Buckets"), " / ",
      h("a", { href: prefixHash(bucket, "") }, bucket));
    let acc = "";
    for (const part of prefix.split("/").filter(Boolean)) {
      acc += part + "/";
      crumbs.append(" / ", h("a", { href: prefixHash(bucket, acc) }, part));
    }
    const input = h("input", { id: "file-input", type: "file", multiple: true });
    const drop = h("div", { id: "drop-zone", class: "drop" }, h("p", {}, "Drop files here to upload them to ", h("strong", {}, "/" + prefix), ", or "),
      h("label", { class: "button" }, "choose files", input));
    const uploads = h("ul", { id: "uploads", class: "uploads" });
    const table = h("table", { id: "objects-table" },
      h("thead", {}, h("tr", {}, ...["Name", "Size", "Modified", ""].map((t) => h("th", {}, t)))), h("tbody"));
    const more = h("button", { type: "button", hidden: true }, "Load more");
    const panel = h("aside", { id: "object-panel", class: "card panel", hidden: true });
    main.append(h("h1", {}, bucket), crumbs, drop, uploads, h("div", { class: "split" }, h("div", { class: "scroll grow" }, table, more), panel));

    const reload = () => list(null);
    input.addEventListener("change", () => {
      upload(bucket, prefix, Array.from(input.files), uploads, reload);
      input.value = "";
    });
    drop.addEventListener("dragover", (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      upload(bucket, prefix, Array.from(e.dataTransfer.files), uploads, reload);
    });

    function objectRow(key, size, modified) {
      const name = key.slice(prefix.length);
      const download = h("a", {
        class: "button small", download: name, href: "#",
        onclick: (ev) => {
          ev.currentTarget.href = Api.presignGet(bucket, key, 300, [["response-content-disposition", `attachment; filename="${name.replace(/"/g, "")}"`]]);
        },
      }, "Download");
      return h("tr", { "data-key": key },
        h("td", { "data-label": "Name" }, h("a", { href: "#", class: "object", onclick: (ev) => { ev.preventDefault(); details(panel, bucket, key, reload); } }, name)),
        h("td", { "data-label": "Size" }, UI.bytes(size)), h("td", { "data-label": "Modified" }, UI.time(modified)),
        h("td", { class: "actions" }, download,
          h("button", { type: "button", class: "small", onclick: () => details(panel, bucket, key, reload) }, "Share / info"),
          Pages.confirmButton("Delete", `Deleting ${key}`, async () => {
            await Api.s3("DELETE", bucket, key);
            UI.notice(`${key} deleted.`);
            reload();
          })));
    }

    async function list(token) {
      try {
        const query = [["list-type", "2"], ["delimiter", "/"], ["prefix", prefix], ["max-keys", "500"]];
        if (token) query.push(["continuation-token", token]);
        const r = await Api.s3("GET", bucket, null, { query });
        const body = table.tBodies[0];
        if (!token) body.textContent = "";
        for (const p of Api.tags(r.doc, "CommonPrefixes")) {
          const sub = Api.tag(p, "Prefix");
          body.append(h("tr", { class: "folder", "data-prefix": sub },
            h("td", { "data-label": "Name", colspan: "4" }, h("a", { href: prefixHash(bucket, sub) }, sub.slice(prefix.length)))));
        }
        for (const c of Api.tags(r.doc, "Contents")) {
          body.append(objectRow(Api.tag(c, "Key"), Number(Api.tag(c, "Size")), Api.tag(c, "LastModified")));
        }
        if (!body.rows.length) body.append(h("tr", {}, h("td", { colspan: "4", class: "hint" }, "Nothing here yet.")));
        const next = Api.tag(r.doc, "NextContinuationToken");
        more.hidden = !next;
        more.onclick = () => list(next);
      } catch (e) {
        UI.error(e, `Listing ${bucket}/${prefix}`);
      }
    }
    list(null);
    every(15000, () => list(null));
  }

  return { show };
})();
