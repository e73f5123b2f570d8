// Roost operator console: plain JavaScript, no build step, no third-party code.
// Every call goes to this console's own /api; it relays to the roles with the operator's identity.
"use strict";

const POLL_MS = 2000;
const state = { csrf: null, operator: null, overview: null, kvCursor: null, kvVersion: null };
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------
// Calls

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, { json, body, headers = {} } = {}) {
  const options = { method, headers: { ...headers }, credentials: "same-origin" };
  if (method !== "GET") options.headers["X-CSRF-Token"] = state.csrf || "";
  if (json !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(json);
  } else if (body !== undefined) {
    options.body = body;
  }
  const response = await fetch(path, options);
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") && response.status !== 204 ? await response.json() : null;
  if (!response.ok) {
    const error = (data && data.error) || {};
    if (response.status === 401 && path !== "api/login") showLogin();
    throw new ApiError(response.status, error.code || "error", error.message || `HTTP ${response.status}`);
  }
  return { status: response.status, data, etag: response.headers.get("etag") };
}

const role = (name, path) => `api/roles/${name}/${path}`;

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function toast(message, kind = "info") {
  const box = $("toast");
  box.textContent = message;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

function confirmAction(text, label = "Confirm") {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = label;
  return new Promise((resolve) => {
    const done = (answer) => {
      dialog.close();
      $("confirm-ok").onclick = $("confirm-cancel").onclick = dialog.oncancel = null;
      resolve(answer);
    };
    $("confirm-ok").onclick = () => done(true);
    $("confirm-cancel").onclick = () => done(false);
    dialog.oncancel = () => done(false);
    dialog.showModal();
    $("confirm-cancel").focus();
  });
}

// ---------------------------------------------------------------------------------------------
// Session and navigation

function showLogin() {
  state.csrf = null;
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.id !== "login";
  $("tabs").hidden = $("who").hidden = true;
  $("credential").focus();
}

async function startSession() {
  const { data } = await api("GET", "api/session");
  if (!data.operator) return showLogin();
  state.csrf = data.csrf_token;
  state.operator = data.operator;
  $("operator").textContent = state.operator;
  $("tabs").hidden = $("who").hidden = false;
  $("login").hidden = true;
  route();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    await api("POST", "api/login", { json: { credential: $("credential").value } });
    $("credential").value = "";
    await startSession();
  } catch (error) {
    $("login-error").textContent = error.message;
  }
});

$("sign-out").addEventListener("click", async () => {
  await api("POST", "api/logout").catch(() => {});
  showLogin();
});

const loaders = { overview: loadOverview, kv: loadKv, thumbnails: loadThumbnails, birds: loadBirds, optimizer: loadOptimizer };

// "#optimizer/<result id>": a panel, and optionally the item it opens (a link to one result).
function route() {
  if (!state.csrf) return;
  const [tab, item] = (location.hash || "#overview").slice(1).split("/");
  const current = loaders[tab] ? tab : "overview";
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.id !== current;
  for (const link of document.querySelectorAll("#tabs a")) {
    if (link.dataset.tab === current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  loaders[current](item ? decodeURIComponent(item) : null);
}
window.addEventListener("hashchange", route);

// ---------------------------------------------------------------------------------------------
// Overview

const STATUS_TEXT = { healthy: "Healthy", degraded: "Degraded", unhealthy: "Unhealthy", down: "Down", unknown: "Checking…" };

function loadOverview() {
  refreshOverview();
  if (!loadOverview.timer) loadOverview.timer = setInterval(() => {
    if (!$("overview").hidden && state.csrf) refreshOverview();
  }, POLL_MS);
}

async function refreshOverview() {
  try {
    const { data } = await api("GET", "api/overview");
    state.overview = data;
    renderOverview(data);
  } catch (error) {
    $("overview-updated").textContent = `The console cannot reach its server: ${error.message}`;
  }
}

function formatNumber(value, digits = 1) {
  return value === null || value === undefined ? "—" : Number(value).toFixed(digits);
}

function formatUptime(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function sparkline(values, label) {
  const width = 220, height = 40;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "spark");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("data-testid", "sparkline");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const points = values.map((v) => (v === null ? 0 : v));
  if (points.length < 2) return svg;
  const max = Math.max(...points, 0.001);
  const step = width / (points.length - 1);
  const coords = points.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 6)).toFixed(1)}`);
  const area = document.createElementNS(svg.namespaceURI, "polygon");
  area.setAttribute("points", `0,${height} ${coords.join(" ")} ${width},${height}`);
  area.setAttribute("class", "spark-area");
  const line = document.createElementNS(svg.namespaceURI, "polyline");
  line.setAttribute("points", coords.join(" "));
  line.setAttribute("class", "spark-line");
  svg.append(area, line);
  svg.dataset.points = coords.join(" ");
  return svg;
}

function renderOverview(data) {
  const when = new Date(data.now * 1000).toLocaleTimeString();
  $("overview-updated").textContent = `Sampled every ${data.sample_seconds} s · updated ${when}`;
  const cards = data.roles.map((r) => {
    const failing = Object.entries(r.checks || {}).map(([name, check]) =>
      element("li", { class: check.status === "ok" ? "ok" : "fail", title: check.error || "" },
        `${name}${check.critical ? "" : " (optional)"}: ${check.status === "ok" ? "ok" : "failing"}`));
    const jobs = r.kind === "jobs";
    const rates = (jobs ? r.series.jobs_rate : r.series.rate).slice(-120);
    return element("article", { class: "card", "data-role": r.role, "data-status": r.status, "data-testid": `role-${r.role}` },
      element("header", {},
        element("h2", { text: r.role }),
        element("span", { class: `badge ${r.status}`, "data-testid": "status", text: STATUS_TEXT[r.status] || r.status })),
      // A development version is long (0.0.1.dev181+g0d56c6d83.d20261203): one line, cut, whole on hover.
      r.error ? element("p", { class: "reason", text: r.error })
        : element("p", { class: "reason meta", "data-testid": "meta", title: `version ${r.version || "?"}`,
          text: `up ${formatUptime(r.uptime_seconds)} · version ${r.version || "?"}` }),
      jobs ? jobNumbers(r.jobs) : requestNumbers(r),
      sparkline(rates, `${r.role}: ${jobs ? "jobs finished" : "requests"} per second, last ${rates.length} samples`),
      jobs ? queueList(r.jobs.queues) : null,
      failing.length ? element("ul", { class: "checks" }, ...failing) : null);
  });
  $("roles").replaceChildren(...cards);
  const backends = Object.entries(data.backends).map(([name, b]) =>
    element("span", { class: `pill ${b.status}`, "data-testid": `backend-${name}`,
      title: b.status === "fail" ? Object.entries(b.failing).map(([r, e]) => `${r}: ${e}`).join("\n") : `seen by ${b.seen_by.join(", ") || "no role"}` },
      `${name} `, element("strong", { text: b.status === "ok" ? "ok" : b.status === "fail" ? "failing" : "unknown" })));
  $("backends").replaceChildren(...backends);
  renderMaintenance(data.maintenance);
}

function figure(label, value, testid, title) {
  return element("div", { title }, element("dt", { text: label }), element("dd", { "data-testid": testid, text: value }));
}

function requestNumbers(r) {
  return element("dl", { class: "numbers" },
    figure("req/s", formatNumber(r.rate, 2), "rate"),
    figure("errors", r.error_ratio === null ? "—" : `${(r.error_ratio * 100).toFixed(1)}%`, "error-ratio"),
    figure("p95", r.p95_ms === null ? "—" : `${formatNumber(r.p95_ms, 0)} ms`, "p95"));
}

// The worker answers no traffic of its own: its card shows the jobs it finishes and fails,
// what waits in its queues and the dead letters (its own /metrics; a retry is a job waiting).
function jobNumbers(jobs) {
  const queued = Object.values(jobs.queues).reduce((sum, q) => sum + q.depth, 0);
  return element("dl", { class: "numbers four" },
    figure("jobs/s", formatNumber(jobs.rate, 2), "jobs-rate", "Jobs finished per second"),
    figure("failed/s", formatNumber(jobs.failed_rate, 2), "jobs-failed-rate", "Jobs failed for good per second (bad image, infeasible request)"),
    figure("queued", Object.keys(jobs.queues).length ? String(queued) : "—", "queued", "Jobs waiting in every queue, retries included"),
    figure("dead", jobs.dead_letters === null ? "—" : String(jobs.dead_letters), "dead-letters", "Dead letters not redriven yet"));
}

function queueList(queues) {
  const items = Object.entries(queues).map(([name, q]) => element("li", { "data-queue": name },
    `${name}: ${q.depth} waiting${q.depth && q.oldest_job_age_seconds ? `, oldest ${formatUptime(q.oldest_job_age_seconds)}` : ""}`));
  return items.length ? element("ul", { class: "queues", "aria-label": "Queues" }, ...items) : null;
}

function renderMaintenance(on) {
  $("maintenance-state").textContent = on === null ? "unknown" : on ? "ON" : "off";
  $("maintenance-card").dataset.on = on ? "true" : "false";
  $("maintenance-toggle").textContent = on ? "Turn off…" : "Turn on…";
  $("maintenance-toggle").disabled = on === null;
}

$("maintenance-toggle").addEventListener("click", async () => {
  const on = state.overview && state.overview.maintenance;
  const text = on ? "Turn maintenance mode off? Every role serves traffic again."
    : "Turn maintenance mode on? Every role but health and metrics answers 503 until it is off.";
  if (!(await confirmAction(text, on ? "Turn off" : "Turn on"))) return;
  try {
    await api("PUT", "api/maintenance", { json: { enabled: !on } });
    toast(`Maintenance mode ${on ? "off" : "on"}`);
    refreshOverview();
  } catch (error) {
    toast(error.message, "error");
  }
});

// ---------------------------------------------------------------------------------------------
// Key-value

function loadKv() {
  if (!loadKv.loaded) { loadKv.loaded = true; browseKeys(false); }
}

async function browseKeys(more) {
  const params = new URLSearchParams({ prefix: $("kv-prefix").value, limit: "50" });
  if (more && state.kvCursor) params.set("cursor", state.kvCursor);
  $("kv-keys").setAttribute("aria-busy", "true");
  try {
    const { data } = await api("GET", role("kv", `api/v1/kv?${params}`));
    const items = data.items.map(({ key }) => element("li", {},
      element("button", { type: "button", class: "link", text: key, onclick: () => readKey(key) })));
    if (more) $("kv-keys").append(...items); else $("kv-keys").replaceChildren(...items);
    if (!more && !items.length) $("kv-keys").append(element("li", { class: "muted", text: "No keys with this prefix." }));
    state.kvCursor = data.next_cursor;
    $("kv-more").hidden = !data.next_cursor;
  } catch (error) {
    $("kv-keys").replaceChildren(element("li", { class: "error", text: error.message }));
  }
  $("kv-keys").setAttribute("aria-busy", "false");
}

$("kv-browse").addEventListener("submit", (event) => { event.preventDefault(); browseKeys(false); });
$("kv-more").addEventListener("click", () => browseKeys(true));

async function readKey(key) {
  $("kv-key").value = key;
  try {
    const { data } = await api("GET", role("kv", `api/v1/kv/${encodeURIComponent(key)}`));
    state.kvVersion = data.version;
    $("kv-value").textContent = JSON.stringify(data.value, null, 2);
    $("kv-json").value = JSON.stringify(data.value, null, 2);
    $("kv-meta").textContent = `${key} · version ${data.version} · ${data.ttl_seconds ? `expires in ${data.ttl_seconds} s` : "no expiry"}`;
  } catch (error) {
    state.kvVersion = null;
    $("kv-value").textContent = "";
    $("kv-meta").textContent = error.status === 404 ? `${key} does not exist.` : error.message;
  }
}

function kvStatus(text, kind = "info") {
  $("kv-status").textContent = text;
  $("kv-status").dataset.kind = kind;
}

$("kv-set").addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = $("kv-key").value.trim();
  let value;
  try { value = JSON.parse($("kv-json").value); } catch (error) {
    return kvStatus(`The value is not JSON: ${error.message}`, "error");
  }
  const body = { value };
  if ($("kv-ttl").value) body.ttl_seconds = Number($("kv-ttl").value);
  const headers = {};
  if ($("kv-guard").checked) headers["If-Match"] = `"${state.kvVersion ?? 0}"`;
  try {
    const { status, data } = await api("PUT", role("kv", `api/v1/kv/${encodeURIComponent(key)}`), { json: body, headers });
    kvStatus(`${status === 201 ? "Created" : "Updated"} ${key} (version ${data.version}).`, "ok");
    await readKey(key);
    browseKeys(false);
  } catch (error) {
    if (error.status === 409 || error.status === 412) {
      kvStatus(`Not saved: ${key} changed since you read it (someone else wrote it). Read it again, then decide.`, "error");
    } else kvStatus(error.message, "error");
  }
});

$("kv-delete").addEventListener("click", async () => {
  const key = $("kv-key").value.trim();
  if (!key) return kvStatus("Name the key to delete.", "error");
  if (!(await confirmAction(`Delete the key “${key}”? This cannot be undone.`, "Delete"))) return;
  try {
    await api("DELETE", role("kv", `api/v1/kv/${encodeURIComponent(key)}`));
    kvStatus(`Deleted ${key}.`, "ok");
    $("kv-value").textContent = "";
    $("kv-meta").textContent = `${key} was deleted.`;
    browseKeys(false);
  } catch (error) {
    kvStatus(error.status === 404 ? `${key} does not exist.` : error.message, "error");
  }
});

// ---------------------------------------------------------------------------------------------
// Thumbnails

function loadThumbnails() {
  refreshGallery();
  refreshDeadLetters();
  // Jobs finish and dead-letter on their own time: keep the lists current while they show.
  if (!loadThumbnails.timer) loadThumbnails.timer = setInterval(() => {
    if (!$("thumbnails").hidden && state.csrf) { refreshGallery(); refreshDeadLetters(); }
  }, 3000);
}

const OPTIMIZATION_ACTOR = "optimizer.run_optimization";
const thumbnailUrl = (id, size) => role("thumbnails", `api/v1/images/${id}/thumbnails/${encodeURIComponent(size)}`);

async function refreshGallery() {
  try {
    const { data } = await api("GET", role("thumbnails", "api/v1/images?limit=24"));
    $("gallery").replaceChildren(...data.items.map((image) => {
      const sizes = Object.keys(image.thumbnails || {});
      const smallest = sizes[0];
      return element("figure", { class: `thumb ${image.status}` },
        smallest ? element("img", { src: thumbnailUrl(image.id, smallest), alt: `Thumbnail ${image.id.slice(0, 8)}`, loading: "lazy" })
          : element("div", { class: "placeholder", text: image.status }),
        element("figcaption", { text: `${image.status}${sizes.length ? ` · ${sizes.join(", ")}` : ""}${image.rejection_reason ? ` · ${image.rejection_reason}` : ""}` }));
    }));
    if (!data.items.length) $("gallery").append(element("p", { class: "muted", text: "No images yet: drop some above." }));
  } catch (error) {
    $("gallery").replaceChildren(element("p", { class: "error", text: error.message }));
  }
}

async function refreshDeadLetters() {
  try {
    const { data } = await api("GET", role("thumbnails", "api/v1/dead-letters?limit=50"));
    // What the operator is inspecting stays open across refreshes.
    const open = new Set([...document.querySelectorAll("#dead-letters details[open]")].map((d) => d.dataset.id));
    const rows = data.items.map((letter) => element("tr", { "data-testid": "dead-letter", "data-image": letter.image_id || "",
      "data-actor": letter.actor_name, "data-job": String((letter.args || [])[0] ?? "") },
      element("td", { "data-label": "When", text: new Date(letter.dead_at).toLocaleString() }),
      element("td", { "data-label": "Job" }, deadLetterJob(letter)),
      element("td", { "data-label": "Error" }, element("details", { "data-id": letter.id, open: open.has(letter.id) }, element("summary", { text: (letter.error || "").slice(0, 60) || "no error recorded" }),
        element("pre", { text: JSON.stringify(letter, null, 2) }))),
      element("td", { "data-label": "Attempts", text: String(letter.attempts) }),
      element("td", {}, element("button", { type: "button", text: "Redrive", "aria-label": `Redrive ${letter.id}`, onclick: () => redrive(letter.id) }))));
    $("dead-letters").replaceChildren(...rows);
    if (!rows.length) $("dead-letters").append(element("tr", {}, element("td", { colspan: "5", class: "muted", text: "No dead letters." })));
    $("redrive-all").disabled = !rows.length;
  } catch (error) {
    $("dead-letters").replaceChildren(element("tr", {}, element("td", { colspan: "5", class: "error", text: error.message })));
  }
}

// Every queue's dead letters are listed here: an image's id, an optimization (a link to its
// result), or another actor's name and first argument.
function deadLetterJob(letter) {
  const argument = String((letter.args || [])[0] ?? "");
  if (letter.image_id) return `image ${letter.image_id.slice(0, 8)}`;
  if (letter.actor_name === OPTIMIZATION_ACTOR && argument) {
    return element("a", { href: `#optimizer/${encodeURIComponent(argument)}`, text: `optimization ${argument.slice(0, 8)}` });
  }
  return `${letter.actor_name} ${argument.slice(0, 8)}`;
}

async function redrive(id) {
  try {
    await api("POST", role("thumbnails", `api/v1/dead-letters/${id}/redrive`));
    toast("Job sent to the queue again");
  } catch (error) { toast(error.message, "error"); }
  refreshDeadLetters();
}

$("redrive-all").addEventListener("click", async () => {
  if (!(await confirmAction("Send every pending dead letter, of every queue, back to its queue?", "Redrive all"))) return;
  try {
    const { data } = await api("POST", role("thumbnails", "api/v1/dead-letters/redrive-all"));
    toast(`${data.redriven} job(s) redriven`);
  } catch (error) { toast(error.message, "error"); }
  refreshDeadLetters();
});

function upload(file) {
  const progress = element("progress", { max: "100", value: "0", "aria-label": `Upload of ${file.name}` });
  const status = element("span", { class: "state", "data-testid": "upload-status", text: "uploading" });
  const preview = element("span", { class: "preview" });
  const row = element("li", { "data-file": file.name }, element("span", { class: "name", text: file.name }), progress, status, preview);
  $("uploads").prepend(row);
  const form = new FormData();
  form.append("file", file);
  const request = new XMLHttpRequest();
  request.open("POST", role("thumbnails", "api/v1/images"));
  request.setRequestHeader("X-CSRF-Token", state.csrf || "");
  request.upload.onprogress = (event) => { if (event.lengthComputable) progress.value = (100 * event.loaded) / event.total; };
  request.onload = () => {
    progress.value = 100;
    let body = {};
    try { body = JSON.parse(request.responseText); } catch { /* not JSON */ }
    if (request.status !== 202) {
      row.dataset.state = "rejected";
      status.textContent = `rejected: ${(body.error && body.error.message) || request.status}`;
      return;
    }
    follow(body.id, row, status, preview);
  };
  request.onerror = () => { row.dataset.state = "failed"; status.textContent = "upload failed: the console did not answer"; };
  request.send(form);
}

async function follow(id, row, status, preview) {
  for (let attempt = 0; attempt < 120; attempt += 1) {
    try {
      const { data } = await api("GET", role("thumbnails", `api/v1/images/${id}`));
      row.dataset.state = data.status;
      if (data.status === "done") {
        status.textContent = "done";
        preview.replaceChildren(...Object.keys(data.thumbnails).map((size) =>
          element("img", { src: thumbnailUrl(id, size), alt: `${size} thumbnail`, title: size })));
        refreshGallery();
        return;
      }
      if (data.status === "rejected" || data.status === "failed") {
        status.textContent = `${data.status}: ${data.rejection_reason || data.error || "no reason given"}`;
        refreshGallery();
        return;
      }
      status.textContent = data.status;
    } catch (error) {
      status.textContent = `status unknown: ${error.message}`;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function uploadAll(files) { for (const file of files) upload(file); }
$("files").addEventListener("change", (event) => { uploadAll(event.target.files); event.target.value = ""; });
$("drop").addEventListener("dragover", (event) => { event.preventDefault(); $("drop").classList.add("over"); });
$("drop").addEventListener("dragleave", () => $("drop").classList.remove("over"));
$("drop").addEventListener("drop", (event) => {
  event.preventDefault();
  $("drop").classList.remove("over");
  uploadAll(event.dataTransfer.files);
});

// ---------------------------------------------------------------------------------------------
// Birds

async function loadBirds() {
  if (!loadBirds.loaded) { loadBirds.loaded = true; searchBirds(); }
  if (!state.overview) await refreshOverview();
  if (state.overview) $("birds-page").href = state.overview.links.frontend;
}

function birdPicture(url) {
  // The roles answer with their own paths; the console relays them.
  if (url.startsWith("/media/")) return role("bird-images", url.slice(1));
  if (url.startsWith("/api/v1/birds/")) return role("birds", url.slice(1));
  return url;
}

async function searchBirds() {
  const params = new URLSearchParams({ limit: "24" });
  if ($("birds-q").value.trim()) params.set("q", $("birds-q").value.trim());
  try {
    const { data } = await api("GET", role("birds", `api/v1/birds?${params}`));
    $("bird-list").replaceChildren(...data.items.map((bird) => element("article", { class: "bird" },
      element("img", { src: birdPicture(bird.image.url), alt: bird.name, loading: "lazy" }),
      element("div", {},
        element("h3", { text: bird.name }),
        element("p", { class: "sci", text: bird.scientific_name }),
        element("button", { type: "button", class: "link", text: "Edit", onclick: () => editBird(bird) })))));
    if (!data.items.length) $("bird-list").append(element("p", { class: "muted", text: "No bird matches." }));
  } catch (error) {
    $("bird-list").replaceChildren(element("p", { class: "error", text: error.message }));
  }
}

$("birds-search").addEventListener("submit", (event) => { event.preventDefault(); searchBirds(); });

function editBird(bird) {
  state.bird = bird;
  $("bird-edit-name").textContent = bird.name;
  $("bird-name").value = bird.name;
  $("bird-sci").value = bird.scientific_name;
  $("bird-region").value = bird.region;
  $("bird-desc").value = bird.description;
  $("bird-status").textContent = "";
  $("bird-edit").hidden = false;
  $("bird-name").focus();
}

$("bird-cancel").addEventListener("click", () => { $("bird-edit").hidden = true; });

$("bird-edit").addEventListener("submit", async (event) => {
  event.preventDefault();
  const bird = state.bird;
  try {
    await api("PUT", role("birds", `api/v1/birds/${bird.id}`), { json: {
      name: $("bird-name").value, scientific_name: $("bird-sci").value,
      region: $("bird-region").value, description: $("bird-desc").value, slug: bird.slug } });
    const photo = $("bird-photo").files[0];
    if (photo) {
      const form = new FormData();
      form.append("file", photo);
      await api("POST", role("birds", `api/v1/birds/${bird.id}/photo`), { body: form });
    }
    $("bird-status").textContent = `Saved ${$("bird-name").value}.`;
    searchBirds();
  } catch (error) {
    $("bird-status").textContent = error.message;
  }
});

// ---------------------------------------------------------------------------------------------
// Optimizer

const optimizerState = { models: [], resultsCursor: null };
const RESULTS_PAGE = 10;
const UNFINISHED = new Set(["queued", "running"]);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// The optimizer's links are its own paths; the page reaches them through the console's relay.
const optimizerLink = (link) => role("optimizer", new URL(link, location.origin).pathname.slice(1));

async function loadOptimizer(resultId) {
  if (!optimizerState.models.length) {
    try {
      const { data } = await api("GET", role("optimizer", "api/v1/models"));
      optimizerState.models = data.items;
      const options = () => data.items.map((m) => element("option", { value: m.name, text: m.name }));
      $("opt-model").replaceChildren(...options());
      $("opt-results-model").replaceChildren(element("option", { value: "", text: "any" }), ...options());
      await pickModel();
    } catch (error) {
      $("opt-status").textContent = error.message;
    }
  }
  followResults();
  await loadResults(false);
  if (resultId) openResult(resultId);
}

// The model and version whose channels the form shows, and the newest request for them: a late
// answer to an older pick, or a second pick of the same version, must not wipe what the
// operator has typed since.
const channelForm = { shown: "", request: 0 };

async function pickModel() {
  const name = $("opt-model").value;
  const request = ++channelForm.request;
  const { data } = await api("GET", role("optimizer", `api/v1/models/${encodeURIComponent(name)}`));
  if (request !== channelForm.request) return;
  const versions = data.versions.filter((v) => v.status === "active");
  const latest = versions[versions.length - 1] || data.versions[data.versions.length - 1];
  if (latest && channelForm.shown === `${name}@${latest.version}`) return;
  $("opt-version").replaceChildren(...versions.map((v) => element("option", { value: String(v.version), text: `v${v.version}` })));
  if (latest) $("opt-version").value = String(latest.version);
  renderChannels(latest ? latest.channels : [], latest ? `${name}@${latest.version}` : "");
}

$("opt-model").addEventListener("change", pickModel);
$("opt-version").addEventListener("change", async () => {
  const name = $("opt-model").value;
  const version = $("opt-version").value;
  const request = ++channelForm.request;
  const { data } = await api("GET", role("optimizer", `api/v1/models/${encodeURIComponent(name)}/versions/${version}`));
  if (request !== channelForm.request || channelForm.shown === `${name}@${version}`) return;
  renderChannels(data.channels, `${name}@${version}`);
});

function renderChannels(channels, shown) {
  channelForm.shown = shown;
  $("opt-channels").replaceChildren(...channels.map((channel, index) => {
    const id = (field) => `opt-${field}-${index}`;
    return element("tr", { "data-channel": channel.name },
      element("th", { scope: "row", text: channel.name }),
      element("td", { "data-label": "Current spend" }, element("input", { id: id("spend"), type: "number", min: "0", step: "any", value: String(10000 * (index + 1)), "aria-label": `${channel.name} current spend` })),
      element("td", { "data-label": "Min" }, element("input", { id: id("min"), type: "number", min: "0", step: "any", "aria-label": `${channel.name} minimum` })),
      element("td", { "data-label": "Max" }, element("input", { id: id("max"), type: "number", min: "0", step: "any", "aria-label": `${channel.name} maximum` })),
      element("td", { "data-label": "Locked" }, element("input", { id: id("locked"), type: "checkbox", "aria-label": `${channel.name} locked` })));
  }));
}

function optimizeRequest() {
  const budget = {};
  const bounds = {};
  const locked = [];
  for (const [index, row] of [...$("opt-channels").rows].entries()) {
    const name = row.dataset.channel;
    budget[name] = Number($(`opt-spend-${index}`).value || 0);
    const min = $(`opt-min-${index}`).value, max = $(`opt-max-${index}`).value;
    if (min || max) bounds[name] = { ...(min ? { min: Number(min) } : {}), ...(max ? { max: Number(max) } : {}) };
    if ($(`opt-locked-${index}`).checked) locked.push(name);
  }
  const constraints = { channels: bounds, locked };
  if ($("opt-total").value) constraints.total = Number($("opt-total").value);
  return { model: $("opt-model").value, model_version: Number($("opt-version").value), budget, constraints };
}

$("opt-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("opt-status").textContent = "Running…";
  try {
    const { data } = await api("POST", role("optimizer", "api/v1/optimize"), { json: optimizeRequest() });
    if (UNFINISHED.has(data.status)) loadResults(false); // the job shows in the list while it runs
    showResult(await untilFinished(data));
    loadResults(false);
  } catch (error) {
    $("opt-status").textContent = error.message;
  }
});

// A queued run's status, polled until its job has finished.
async function untilFinished(result) {
  let data = result;
  while (UNFINISHED.has(data.status)) {
    $("opt-status").textContent = `Job ${data.id.slice(0, 8)}: ${data.status}…`;
    await sleep(1000);
    ({ data } = await api("GET", role("optimizer", `api/v1/results/${data.id}`)));
  }
  return data;
}

async function openResult(id) {
  $("opt-status").textContent = `Opening result ${id.slice(0, 8)}…`;
  try {
    const { data } = await api("GET", role("optimizer", `api/v1/results/${encodeURIComponent(id)}`));
    showResult(await untilFinished(data));
    $("opt-status").scrollIntoView({ block: "start" });
  } catch (error) {
    $("opt-status").textContent = error.status === 404 ? `No result ${id}.` : error.message;
  }
}

function money(value) { return Number(value).toLocaleString(undefined, { maximumFractionDigits: 0 }); }

function liftText(lift) {
  if (!lift) return "—";
  return lift.relative === null || lift.relative === undefined ? money(lift.absolute) : `${(lift.relative * 100).toFixed(1)}%`;
}

function showResult(data) {
  if (data.status === "failed") {
    $("opt-result").hidden = true;
    $("opt-status").textContent = `Failed: ${data.error ? data.error.message : "no reason given"} · result ${data.id.slice(0, 8)}`;
    return;
  }
  const scenarios = data.scenarios ? ` of ${data.scenarios.length} totals` : "";
  $("opt-status").textContent = `Done: ${data.kind} ${data.solver ? data.solver.status : data.status}${scenarios} · result ${data.id.slice(0, 8)}`;
  // A sweep has no single allocation to chart: its scenarios are in the result's JSON.
  if (!data.channels) { $("opt-result").hidden = true; return; }
  $("opt-result").hidden = false;
  $("opt-figures").replaceChildren(
    element("div", {}, element("span", { text: "Response before" }), element("strong", { text: money(data.predicted_response.before) })),
    element("div", {}, element("span", { text: "Response after" }), element("strong", { text: money(data.predicted_response.after) })),
    element("div", {}, element("span", { text: "Lift" }), element("strong", { "data-testid": "opt-lift", text: liftText(data.lift) })),
    element("div", {}, element("span", { text: "Marginal ROI of the next unit" }), element("strong", { text: formatNumber(data.budget_marginal_roi, 3) })));
  $("opt-bars").replaceChildren(barChart(data.channels));
  $("opt-curves").src = role("optimizer", `api/v1/optimize/${data.id}/curves.svg`);
}

function barChart(channels) {
  const ns = "http://www.w3.org/2000/svg";
  const rowHeight = 34, labelWidth = 90, width = 640, chartWidth = width - labelWidth - 80;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${channels.length * rowHeight + 24}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Current and optimal spend per channel");
  const max = Math.max(...channels.flatMap((c) => [c.current_spend, c.optimal_spend]), 1);
  const text = (x, y, content, cls) => {
    const node = document.createElementNS(ns, "text");
    node.setAttribute("x", x); node.setAttribute("y", y); node.setAttribute("class", cls);
    node.textContent = content;
    return node;
  };
  channels.forEach((channel, index) => {
    const y = index * rowHeight + 4;
    svg.append(text(0, y + 18, channel.name, "bar-label"));
    [["current", channel.current_spend, 0], ["optimal", channel.optimal_spend, 13]].forEach(([kind, value, offset]) => {
      const bar = document.createElementNS(ns, "rect");
      bar.setAttribute("x", labelWidth); bar.setAttribute("y", y + offset);
      bar.setAttribute("width", Math.max(1, (value / max) * chartWidth).toFixed(1)); bar.setAttribute("height", 11);
      bar.setAttribute("class", `bar ${kind}`);
      bar.setAttribute("data-testid", `bar-${kind}`);
      svg.append(bar, text(labelWidth + (value / max) * chartWidth + 6, y + offset + 10, money(value), "bar-value"));
    });
  });
  const legend = channels.length * rowHeight + 18;
  svg.append(text(labelWidth, legend, "■ current", "legend current"), text(labelWidth + 90, legend, "■ optimal", "legend optimal"));
  return svg;
}

// ---------------------------------------------------------------------------------------------
// Optimizer: past results (the optimizer's own list, newest first, in pages)

async function loadResults(more) {
  const params = new URLSearchParams({ limit: String(RESULTS_PAGE) });
  if ($("opt-results-status").value) params.set("status", $("opt-results-status").value);
  if ($("opt-results-model").value) params.set("model", $("opt-results-model").value);
  if (more && optimizerState.resultsCursor) params.set("cursor", optimizerState.resultsCursor);
  try {
    const { data } = await api("GET", role("optimizer", `api/v1/results?${params}`));
    const rows = data.items.map(resultRow);
    if (more) $("opt-results").append(...rows);
    else $("opt-results").replaceChildren(...rows);
    if (!more && !rows.length) {
      $("opt-results").append(element("tr", {}, element("td", { colspan: "5", class: "muted", text: "No results match: run one above." })));
    }
    optimizerState.resultsCursor = data.next_cursor;
    $("opt-results-more").hidden = !data.next_cursor;
  } catch (error) {
    $("opt-results").replaceChildren(element("tr", {}, element("td", { colspan: "5", class: "error", text: error.message })));
    $("opt-results-more").hidden = true;
  }
}

function resultRow(result) {
  const links = result.links || {};
  const running = UNFINISHED.has(result.status);
  const model = `${result.model.name} v${result.model.version}${result.kind === "optimize" ? "" : ` · ${result.kind}`}`;
  return element("tr", { "data-testid": "opt-result", "data-id": result.id, "data-status": result.status },
    element("td", { "data-label": "Created", text: new Date(result.created_at).toLocaleString() }),
    element("td", { "data-label": "Model", text: model }),
    element("td", { "data-label": "Status" }, element("span", { class: `badge ${result.status}`, "data-testid": "opt-result-status",
      text: running ? `${result.status}…` : result.status, title: result.error ? result.error.message : null })),
    element("td", { "data-label": "Lift", text: liftText(result.lift) }),
    element("td", { class: "links" },
      element("a", { href: `#optimizer/${result.id}`, "aria-label": `Open result ${result.id.slice(0, 8)}`, text: "Open" }),
      " · ",
      element("a", { href: optimizerLink(links.self || `/api/v1/results/${result.id}`), target: "_blank", rel: "noopener", text: "JSON" }),
      links.curves_svg ? " · " : null,
      links.curves_svg ? element("a", { href: optimizerLink(links.curves_svg), target: "_blank", rel: "noopener", text: "curves" }) : null));
}

// Rows of jobs still queued or running follow their job until it has finished.
function followResults() {
  if (followResults.timer) return;
  followResults.timer = setInterval(async () => {
    if ($("optimizer").hidden || !state.csrf) return;
    const rows = [...$("opt-results").querySelectorAll("tr[data-id]")].filter((row) => UNFINISHED.has(row.dataset.status));
    for (const row of rows) {
      try {
        const { data } = await api("GET", role("optimizer", `api/v1/results/${row.dataset.id}`));
        if (data.status !== row.dataset.status) row.replaceWith(resultRow(data));
      } catch { /* the next tick tries again; the role's card says whether it is down */ }
    }
  }, 1500);
}

$("opt-results-status").addEventListener("change", () => loadResults(false));
$("opt-results-model").addEventListener("change", () => loadResults(false));
$("opt-results-more").addEventListener("click", () => loadResults(true));

startSession();
