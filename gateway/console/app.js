// Cairn console: start-up, login and logout, the hash router (#/buckets,
// #/b/BUCKET/PREFIX, #/keys, #/cluster), the error banner and the live-refresh
// timer of the page shown. DOM helpers shared by the pages are in UI (pages.js
// loads before this file and uses them only at run time).
"use strict";

const UI = {
  // h("div", {class: "x", onclick: f}, child, "text", ...)
  h(tagName, attrs, ...children) {
    const el = document.createElement(tagName);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c == null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  },
  bytes(n) {
    if (n == null || isNaN(n)) return "—";
    const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let i = 0;
    let v = Number(n);
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return (i === 0 ? v.toFixed(0) : v.toFixed(v < 10 ? 2 : 1)) + " " + units[i];
  },
  time(s) {
    if (!s) return "—";
    const d = new Date(s);
    return isNaN(d) ? s : d.toLocaleString();
  },
  duration(secs) {
    if (secs == null || !isFinite(secs)) return "—";
    secs = Math.round(secs);
    if (secs < 60) return `${secs} s`;
    if (secs < 3600) return `${Math.floor(secs / 60)} min ${secs % 60} s`;
    return `${Math.floor(secs / 3600)} h ${Math.floor((secs % 3600) / 60)} min`;
  },
  // An error in plain words, in the banner (and returned for an inline place).
  error(e, what) {
    const text = (what ? what + " failed: " : "") + (e && e.message ? e.message : String(e));
    const b = document.getElementById("banner");
    b.textContent = "";
    b.append(UI.h("span", { class: "msg" }, text), UI.h("button", { class: "link", type: "button", onclick: () => (b.hidden = true) }, "Dismiss"));
    b.className = "error";
    b.hidden = false;
    return text;
  },
  notice(text) {
    const b = document.getElementById("banner");
    b.textContent = text;
    b.className = "notice";
    b.hidden = false;
    setTimeout(() => {
      if (b.textContent === text) b.hidden = true;
    }, 4000);
  },
  clearBanner() {
    document.getElementById("banner").hidden = true;
  },
  // Runs an action of a button: disables it meanwhile, shows its error.
  async act(button, what, fn) {
    if (button) button.disabled = true;
    try {
      return await fn();
    } catch (e) {
      UI.error(e, what);
      return undefined;
    } finally {
      if (button) button.disabled = false;
    }
  },
  needs(what) {
    return UI.h("div", { class: "card needs" },
      UI.h("p", {}, `This page needs ${what}.`),
      UI.h("button", { type: "button", class: "primary", onclick: () => App.showLogin() }, "Log in again"));
  },
};

const App = (() => {
  let timer = null;
  let current = null;

  function every(ms, fn) {
    clearInterval(timer);
    timer = setInterval(() => {
      if (!document.hidden) fn();
    }, ms);
  }

  function showLogin() {
    clearInterval(timer);
    document.getElementById("main").textContent = "";
    document.getElementById("top").hidden = true;
    document.getElementById("login").hidden = false;
    document.getElementById("login-token-set").hidden = !Api.config().admin;
    const s = Api.session();
    document.getElementById("login-access").value = s.accessKey || "";
  }

  async function login(ev) {
    ev.preventDefault();
    const err = document.getElementById("login-error");
    err.hidden = true;
    const s = {
      accessKey: document.getElementById("login-access").value.trim(),
      secretKey: document.getElementById("login-secret").value.trim(),
      token: document.getElementById("login-token").value.trim(),
    };
    if (!s.accessKey && !s.token) {
      err.textContent = "Give an S3 access key and its secret, or the admin token.";
      err.hidden = false;
      return;
    }
    if (s.accessKey && !s.secretKey) {
      err.textContent = "The secret key is missing.";
      err.hidden = false;
      return;
    }
    const button = document.getElementById("login-submit");
    button.disabled = true;
    const previous = Api.session();
    Api.save(s);
    try {
      if (s.accessKey) await Api.s3("GET", null, null);
      if (s.token) await Api.admin("GET", "/keys");
      document.getElementById("login-secret").value = "";
      document.getElementById("login-token").value = "";
      start();
    } catch (e) {
      Api.save(previous);
      err.textContent = "Login failed: " + e.message;
      err.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  function start() {
    document.getElementById("login").hidden = true;
    document.getElementById("top").hidden = false;
    const s = Api.session();
    const who = [];
    if (s.accessKey) who.push(`key ${s.accessKey}`);
    if (s.token) who.push("admin token");
    document.getElementById("who").textContent = who.join(" + ");
    if (!location.hash || location.hash === "#") location.hash = "#/buckets";
    else route();
  }

  // #/b/BUCKET/PREFIX... (each part URI-encoded)
  function route() {
    if (!Api.hasKey() && !Api.hasToken()) return showLogin();
    clearInterval(timer);
    UI.clearBanner();
    const parts = location.hash.replace(/^#\/?/, "").split("/");
    const page = parts[0] || "buckets";
    const main = document.getElementById("main");
    main.textContent = "";
    for (const a of document.querySelectorAll("#nav a")) {
      a.classList.toggle("active", a.dataset.page === page || (page === "b" && a.dataset.page === "buckets"));
    }
    current = page;
    if (page === "b" && parts[1]) {
      const bucket = decodeURIComponent(parts[1]);
      const prefix = parts.slice(2).map(decodeURIComponent).join("/");
      Browser.show(main, bucket, prefix, every);
    } else if (page === "keys") {
      Pages.keys(main, every);
    } else if (page === "cluster") {
      Pages.cluster(main, every);
    } else {
      Pages.buckets(main, every);
    }
  }

  async function boot() {
    try {
      await Api.loadConfig();
    } catch (e) {
      /* keep the defaults; the first request shows the error */
    }
    document.getElementById("login-form").addEventListener("submit", login);
    document.getElementById("logout").addEventListener("click", () => {
      Api.logout();
      showLogin();
    });
    window.addEventListener("hashchange", route);
    if (Api.hasKey() || Api.hasToken()) start();
    else showLogin();
  }

  return { boot, showLogin, route, current: () => current };
})();

App.boot();
