// Cairn console: the buckets page (create, delete, objects, size, versioning
// and object lock), the keys page (create a key for an app with a grant on one
// bucket, grants, disable, delete) and the cluster page (nodes, Raft groups,
// the running move, charts). Each refreshes itself through `every`.
"use strict";

const Pages = (() => {
  const h = (...a) => UI.h(...a);

  // A button that asks again before it acts.
  function confirmButton(label, what, fn) {
    const b = h("button", { type: "button", class: "danger small" }, label);
    let armed = null;
    b.addEventListener("click", async () => {
      if (!armed) {
        b.textContent = "Sure? " + label;
        armed = setTimeout(() => {
          armed = null;
          b.textContent = label;
        }, 5000);
        return;
      }
      clearTimeout(armed);
      armed = null;
      b.textContent = label;
      await UI.act(b, what, fn);
    });
    return b;
  }

  async function bucketState(name) {
    const [versioning, lock] = await Promise.all([
      Api.s3("GET", name, null, { query: [["versioning", ""]] })
        .then((r) => Api.tag(r.doc, "Status") || "off")
        .catch((e) => (e.code === "AccessDenied" ? "—" : "?")),
      Api.s3("GET", name, null, { query: [["object-lock", ""]] })
        .then((r) => (Api.tag(r.doc, "ObjectLockEnabled") === "Enabled" ? "on" : "off"))
        .catch((e) => (e.code === "ObjectLockConfigurationNotFoundError" ? "off" : "—")),
    ]);
    return { versioning, lock };
  }

  function buckets(main, every) {
    const table = h("table", { id: "buckets-table" },
      h("thead", {}, h("tr", {}, ...["Bucket", "Objects", "Size", "Versioning", "Object lock", "Created", ""].map((t) => h("th", {}, t)))),
      h("tbody"));
    const name = h("input", { id: "new-bucket-name", placeholder: "new-bucket-name", spellcheck: "false", required: true });
    const versioning = h("input", { id: "new-bucket-versioning", type: "checkbox" });
    const lock = h("input", { id: "new-bucket-lock", type: "checkbox" });
    const create = h("button", { id: "create-bucket", type: "submit", class: "primary" }, "Create bucket");
    const form = h("form", { class: "card row-form", id: "create-bucket-form" },
      h("label", {}, "Name ", name),
      h("label", { class: "check" }, versioning, " versioning"),
      h("label", { class: "check" }, lock, " object lock"),
      create);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      UI.act(create, `Creating bucket ${name.value}`, async () => {
        const b = name.value.trim();
        const headers = lock.checked ? { "x-amz-bucket-object-lock-enabled": "true" } : {};
        await Api.s3("PUT", b, null, { headers });
        if (versioning.checked && !lock.checked) {
          const body = '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>';
          await Api.s3("PUT", b, null, { query: [["versioning", ""]], body });
        }
        name.value = "";
        UI.notice(`Bucket ${b} created.`);
        await load();
      });
    });
    main.append(h("h1", {}, "Buckets"));
    if (Api.hasKey()) main.append(form);
    else main.append(h("p", { class: "hint" }, "Log in with an S3 key to create buckets and browse objects."));
    main.append(h("div", { class: "scroll" }, table));

    async function load() {
      try {
        const rows = new Map();
        if (Api.hasKey()) {
          const r = await Api.s3("GET", null, null);
          for (const b of Api.tags(r.doc, "Bucket")) {
            rows.set(Api.tag(b, "Name"), { name: Api.tag(b, "Name"), created: Api.tag(b, "CreationDate") });
          }
        }
        if (Api.hasToken()) {
          for (const b of await Api.admin("GET", "/buckets")) {
            if (Api.hasKey() && !rows.has(b.name)) continue;
            rows.set(b.name, Object.assign(rows.get(b.name) || {}, b));
          }
        }
        const list = Array.from(rows.values()).sort((a, b) => (a.name < b.name ? -1 : 1));
        const states = Api.hasKey() ? await Promise.all(list.map((b) => bucketState(b.name))) : [];
        const body = table.tBodies[0];
        body.textContent = "";
        list.forEach((b, i) => {
          const st = states[i] || { versioning: "—", lock: "—" };
          const link = Api.hasKey() ? h("a", { href: "#/b/" + encodeURIComponent(b.name) + "/" }, b.name) : b.name;
          body.append(h("tr", { "data-bucket": b.name },
            h("td", { "data-label": "Bucket" }, link),
            h("td", { "data-label": "Objects" }, b.objects != null ? String(b.objects) : "—"),
            h("td", { "data-label": "Size" }, b.size != null ? UI.bytes(b.size) : "—"),
            h("td", { "data-label": "Versioning" }, st.versioning),
            h("td", { "data-label": "Object lock" }, st.lock),
            h("td", { "data-label": "Created" }, UI.time(b.created)),
            h("td", {}, Api.hasKey() ? confirmButton("Delete", `Deleting bucket ${b.name}`, async () => {
              await Api.s3("DELETE", b.name, null);
              UI.notice(`Bucket ${b.name} deleted.`);
              await load();
            }) : "")));
        });
        if (!list.length) body.append(h("tr", {}, h("td", { colspan: "7", class: "hint" }, "No buckets yet.")));
        if (!Api.hasToken()) table.title = "Objects and sizes need the admin token.";
      } catch (e) {
        UI.error(e, "Listing buckets");
      }
    }
    load();
    every(10000, load);
  }

  const ACCESS = {
    read: { read: true, write: false, owner: false },
    "read+write": { read: true, write: true, owner: false },
    owner: { read: true, write: true, owner: true },
  };
  const accessSelect = (id) => h("select", { id }, ...Object.keys(ACCESS).map((k) => h("option", { value: k }, k)));

  function keys(main, every) {
    main.append(h("h1", {}, "Keys and grants"));
    if (!Api.hasToken()) return main.append(UI.needs("the admin token"));
    const name = h("input", { id: "key-name", placeholder: "app name", spellcheck: "false", required: true });
    const bucket = h("select", { id: "key-bucket" }, h("option", { value: "" }, "(no bucket)"));
    const access = accessSelect("key-access");
    const expires = h("input", { id: "key-expires", placeholder: "never (or 30d, 2027-01-31)" });
    const create = h("button", { id: "create-key", type: "submit", class: "primary" }, "Create key");
    const created = h("div", { id: "key-created", class: "card secret", hidden: true });
    const form = h("form", { class: "card row-form" },
      h("label", {}, "App ", name), h("label", {}, "Bucket ", bucket), h("label", {}, "Access ", access),
      h("label", {}, "Expires ", expires), create);
    const gKey = h("select", { id: "grant-key" });
    const gBucket = h("select", { id: "grant-bucket" });
    const gAccess = accessSelect("grant-access");
    const allow = h("button", { id: "grant-allow", type: "button" }, "Allow");
    const deny = h("button", { id: "grant-deny", type: "button" }, "Take away");
    const grantForm = h("div", { class: "card row-form" }, h("label", {}, "Key ", gKey), h("label", {}, "Bucket ", gBucket),
      h("label", {}, "Access ", gAccess), allow, deny);
    const table = h("table", { id: "keys-table" },
      h("thead", {}, h("tr", {}, ...["Name", "Access key", "Created", "Expires", "State", "Buckets", ""].map((t) => h("th", {}, t)))),
      h("tbody"));
    main.append(h("h2", {}, "A key for an app"), form, created, h("h2", {}, "Grants"), grantForm, h("h2", {}, "Keys"),
      h("div", { class: "scroll" }, table));

    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      UI.act(create, `Creating key ${name.value}`, async () => {
        const body = { name: name.value.trim() };
        if (expires.value.trim()) body.expires = expires.value.trim();
        const k = await Api.admin("POST", "/keys", body);
        created.textContent = "";
        created.append(h("p", {}, h("strong", {}, `Key ${k.name} created. `), "Copy the secret now: it is shown this once."),
          h("dl", {}, h("dt", {}, "Access key"), h("dd", { id: "created-access" }, k.access_key),
            h("dt", {}, "Secret key"), h("dd", { id: "created-secret" }, k.secret_key),
            h("dt", {}, "Expires"), h("dd", {}, k.expires || "never")));
        created.hidden = false;
        if (bucket.value) {
          try {
            await Api.admin("POST", `/buckets/${encodeURIComponent(bucket.value)}/allow`, Object.assign({ key: k.name }, ACCESS[access.value]));
            created.append(h("p", { id: "created-grant" }, `It may ${access.value} bucket ${bucket.value}.`));
          } catch (e) {
            UI.error(e, `The key was created, but granting it ${bucket.value}`);
          }
        }
        name.value = "";
        expires.value = "";
        await load();
      });
    });
    const grant = (button, verb) => UI.act(button, `${verb} ${gKey.value} on ${gBucket.value}`, async () => {
      await Api.admin("POST", `/buckets/${encodeURIComponent(gBucket.value)}/${verb}`, Object.assign({ key: gKey.value }, ACCESS[gAccess.value]));
      UI.notice(`Grants of ${gKey.value} on ${gBucket.value} changed.`);
      await load();
    });
    allow.addEventListener("click", () => grant(allow, "allow"));
    deny.addEventListener("click", () => grant(deny, "deny"));

    function fill(select, values, keepFirst) {
      const keep = select.value;
      while (select.options.length > (keepFirst ? 1 : 0)) select.remove(keepFirst ? 1 : 0);
      for (const v of values) select.append(h("option", { value: v }, v));
      if (values.includes(keep)) select.value = keep;
    }

    async function load() {
      try {
        const [list, bucketList] = await Promise.all([Api.admin("GET", "/keys"), Api.admin("GET", "/buckets")]);
        fill(bucket, bucketList.map((b) => b.name), true);
        fill(gBucket, bucketList.map((b) => b.name), false);
        fill(gKey, list.filter((k) => !k.admin).map((k) => k.name), false);
        const body = table.tBodies[0];
        body.textContent = "";
        for (const k of list) {
          const state = k.admin ? "admin" : k.expired ? "expired" : k.enabled ? "enabled" : "disabled";
          const grants = k.buckets.map((g) => `${g.bucket} (${g.owner ? "owner" : g.write ? "read+write" : "read"})`).join(", ");
          const actions = k.admin ? "" : h("span", { class: "actions" },
            h("button", {
              type: "button", class: "small",
              onclick: (ev) => UI.act(ev.target, `Changing key ${k.name}`, async () => {
                await Api.admin("POST", `/keys/${encodeURIComponent(k.name)}/${k.enabled ? "disable" : "enable"}`);
                await load();
              }),
            }, k.enabled ? "Disable" : "Enable"),
            confirmButton("Delete", `Deleting key ${k.name}`, async () => {
              await Api.admin("DELETE", `/keys/${encodeURIComponent(k.name)}`);
              await load();
            }));
          body.append(h("tr", { "data-key": k.name },
            h("td", { "data-label": "Name" }, k.name), h("td", { "data-label": "Access key", class: "mono" }, k.access_key),
            h("td", { "data-label": "Created" }, UI.time(k.created)), h("td", { "data-label": "Expires" }, k.expires ? UI.time(k.expires) : "never"),
            h("td", { "data-label": "State" }, state), h("td", { "data-label": "Buckets" }, k.admin ? "all" : grants || "none"),
            h("td", {}, actions)));
        }
      } catch (e) {
        UI.error(e, "Listing keys");
      }
    }
    load();
    every(15000, load);
  }

  function bar(fraction, label) {
    const f = Math.max(0, Math.min(1, fraction || 0));
    const fill = h("div", { class: "fill" + (f > 0.9 ? " full" : "") });
    fill.style.width = (f * 100).toFixed(1) + "%";
    return h("div", { class: "bar", title: label, role: "progressbar", "aria-valuenow": (f * 100).toFixed(0) }, fill, h("span", {}, label));
  }

  function moveCard(m) {
    const box = h("div", { id: "move", class: "card" });
    if (!m || !m.pgs_total) {
      box.append(h("h2", {}, "Moves"), h("p", { class: "hint" }, "No move since this gateway started watching."));
      return box;
    }
    const byBytes = m.bytes_total > 0;
    const f = byBytes ? m.bytes_done / m.bytes_total : m.pgs_done / m.pgs_total;
    const state = m.done ? "finished" : "running";
    box.append(h("h2", {}, `Move ${state}`), bar(f, `${(f * 100).toFixed(0)}%`),
      h("p", { id: "move-text" }, `${m.pgs_done} of ${m.pgs_total} groups moved; ${UI.bytes(m.bytes_done)} of ${UI.bytes(m.bytes_total)}`,
        m.done ? "" : `; ${UI.bytes(m.rate_bytes_per_s)}/s; ETA ${m.eta_s != null ? UI.duration(m.eta_s) : "—"}`));
    box.dataset.state = state;
    for (const fm of m.failed || []) box.append(h("p", { class: "error" }, `Group ${fm.group} failed: ${fm.error}`));
    if ((m.leftovers || []).length) box.append(h("p", { class: "hint" }, `Still to clean up on node(s) ${m.leftovers.join(", ")}.`));
    return box;
  }

  function groupRow(name, g) {
    const settled = JSON.stringify(g.voters) === JSON.stringify(g.target) && !g.learners.length && g.leader != null;
    const lag = (g.lag || []).map(([n, l]) => `n${n}: ${l}`).join(", ") || "—";
    return h("tr", {},
      h("td", { "data-label": "Group" }, name), h("td", { "data-label": "Leader" }, g.leader != null ? `n${g.leader}` : "none"),
      h("td", { "data-label": "Voters" }, g.voters.join(", ")), h("td", { "data-label": "Learners" }, g.learners.join(", ") || "—"),
      h("td", { "data-label": "Target" }, g.target.join(", ")), h("td", { "data-label": "Lag" }, lag),
      h("td", { "data-label": "Bytes" }, UI.bytes(g.bytes)), h("td", { "data-label": "State" }, settled ? "settled" : "moving"));
  }

  function cluster(main, every) {
    main.append(h("h1", {}, "Cluster"));
    const status = h("div", { id: "cluster-status" });
    const charts = h("div", { id: "charts", class: "card charts" });
    if (Api.hasToken()) main.append(status);
    else main.append(UI.needs("the admin token for nodes, groups and moves"));
    main.append(h("h2", {}, "Last hour"), charts);
    let fast = false;

    async function load() {
      try {
        Charts.render(charts, await Api.history());
      } catch (e) {
        UI.error(e, "Reading the metrics");
      }
      if (!Api.hasToken()) return;
      try {
        const c = await Api.admin("GET", "/cluster");
        status.textContent = "";
        const nodes = (c.nodes || []).map((n) => h("div", { class: "card node" + (n.up ? "" : " down"), "data-node": String(n.id) },
          h("h3", {}, `Node ${n.id} `, h("span", { class: "badge " + (n.up ? "ok" : "bad") }, n.up ? "up" : "down"),
            n.drain ? h("span", { class: "badge warn" }, "draining") : "", n.in_map === false ? h("span", { class: "badge warn" }, "not in map") : ""),
          n.address ? h("p", { class: "mono hint" }, n.address) : "",
          bar(n.capacity ? n.used / n.capacity : 0, `${UI.bytes(n.used)} of ${n.capacity ? UI.bytes(n.capacity) : "?"}`),
          n.chunks != null ? h("p", { class: "hint" }, `${n.chunks} chunks`) : ""));
        status.append(
          h("p", { id: "cluster-summary" }, `${c.name}`, c.epoch != null ? ` · map epoch ${c.epoch}` : "",
            c.replication ? ` · ${c.replication} replicas` : "", c.placement_groups ? ` · ${c.placement_groups} placement groups` : "",
            ` · usable ${UI.bytes(c.usable_capacity)}`),
          c.moves ? moveCard(c.moves) : "", h("h2", {}, "Nodes"), h("div", { class: "nodes" }, ...nodes));
        // Faster while a move runs.
        const moving = c.moves && c.moves.pgs_total > 0 && !c.moves.done;
        if (moving !== fast) {
          fast = moving;
          every(fast ? 1000 : 2000, load);
        }
        if (c.catalog) {
          const t = h("table", { id: "groups-table" },
            h("thead", {}, h("tr", {}, ...["Group", "Leader", "Voters", "Learners", "Target", "Lag (entries)", "Bytes", "State"].map((x) => h("th", {}, x)))),
            h("tbody", {}, groupRow("catalog", c.catalog), ...(c.pgs || []).map((g) => groupRow(`PG ${g.pg}`, g))));
          status.append(h("h2", {}, "Raft groups"), h("div", { class: "scroll" }, t));
        }
      } catch (e) {
        UI.error(e, "Reading the cluster status");
      }
    }
    load();
    every(2000, load);
  }

  return { buckets, keys, cluster, confirmButton };
})();
