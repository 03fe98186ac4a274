// The order engine's page: the market's prices, live quotes, market and limit orders (with cancel), launches,
// and each order's timeline over the WebSocket.
// Plain JavaScript, no build step. Amounts stay strings of digits (the engine never uses floats).
"use strict";

const PAIRS = [
  ["SOL", "USDC"], ["USDC", "SOL"], ["SOL", "USDT"], ["USDT", "SOL"], ["USDC", "USDT"],
  ["USDT", "USDC"], ["JUP", "SOL"], ["SOL", "JUP"], ["BONK", "SOL"], ["SOL", "BONK"],
];
const DEFAULT_AMOUNT = { SOL: "1.5", USDC: "250", USDT: "250", JUP: "1000", BONK: "10000000" };
const LIFECYCLE = ["pending", "routing", "building", "submitted", "confirmed"];
const LIMIT_LIFECYCLE = ["pending", "open", "routing", "building", "submitted", "confirmed"];
const TERMINAL = new Set(["confirmed", "failed", "cancelled", "expired"]);
// The pairs as their pools hold them (BASE-QUOTE): the chart's choices; launches add theirs.
const POOL_PAIRS = ["SOL-USDC", "SOL-USDT", "USDC-USDT", "JUP-SOL", "BONK-SOL"];
const CHART_SECONDS = 300;
const KEY_STORAGE = "orders.apiKey";

// Where the notifier is: `?ws=` on this page, else the api's PUBLIC_WS_URL (/config.js), else port 8001 here.
const WS_BASE = (
  new URLSearchParams(location.search).get("ws") ||
  (window.ORDERS_CONFIG && window.ORDERS_CONFIG.wsUrl) ||
  `${location.protocol === "https:" ? "wss" : "ws"}://${location.hostname}:8001`
).replace(/\/$/, "");

const $ = (id) => document.getElementById(id);

// A DOM element: h("td", {class: "num"}, "1.5", child, …); text is always text, never HTML.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null) el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

// A decimal string for people: thousands separated, about 6 significant digits after the point.
function fmt(value) {
  if (value === undefined || value === null || value === "") return "—";
  const text = String(value);
  const negative = text.startsWith("-");
  const [whole, frac = ""] = text.replace("-", "").split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  let keep = Math.max(0, 6 - (whole === "0" ? 0 : whole.length));
  if (whole === "0") keep = (frac.match(/^0*/)[0].length) + 6;
  const shown = frac.slice(0, keep).replace(/0+$/, "");
  return (negative ? "-" : "") + grouped + (shown ? "." + shown : "");
}

function shortId(id) { return String(id).split("-")[0]; }

function routeText(dexChosen, route) {
  if (!dexChosen) return "—";
  if (dexChosen === "split" && route) return "split " + route.map((l) => `${l.percent}% ${l.venue}`).join(" / ");
  return dexChosen;
}

// --- The API key: kept for this tab only (sessionStorage), sent as a Bearer header and, on the
// WebSocket (where a browser cannot set headers), as the subprotocol `bearer.<key>`.
function apiKey() { return sessionStorage.getItem(KEY_STORAGE) || ""; }

function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function api(method, path, body, extraHeaders) {
  const headers = { Accept: "application/json", ...authHeaders(), ...(extraHeaders || {}) };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (!response.ok) {
    const problem = data || {};
    const error = new Error(problem.detail || problem.title || `HTTP ${response.status}`);
    error.status = response.status;
    error.fields = problem.errors || [];
    throw error;
  }
  return { status: response.status, data };
}

function problemText(error) {
  const fields = (error.fields || []).map((f) => `${f.field}: ${f.message}`);
  return fields.length ? fields.join("; ") : error.message;
}

// --- The form and the live quote
function selectedPair() { return PAIRS[Number($("pair").value)]; }

function orderBody() {
  const [tokenIn, tokenOut] = selectedPair();
  const body = { tokenIn, tokenOut, amountIn: $("amount").value.trim(), type: $("order-type").value };
  const slippage = $("slippage").value.trim();
  if (slippage !== "") body.slippageBps = Number(slippage);
  if (body.type === "limit") {
    body.limitPrice = $("limit-price").value.trim();
    const seconds = $("expires").value;
    if (seconds) body.expiresAt = new Date(Date.now() + Number(seconds) * 1000).toISOString();
  }
  return body;
}

function showOrderType() {
  const limit = $("order-type").value === "limit";
  document.querySelectorAll(".limit-only").forEach((el) => { el.hidden = !limit; });
  const [tokenIn, tokenOut] = selectedPair();
  $("limit-unit").textContent = `${tokenOut} per ${tokenIn}`;
  $("submit").textContent = limit ? "Place limit order" : "Submit order";
}

let quoteTimer = null;
let quoteSeq = 0;

function scheduleQuote() {
  clearTimeout(quoteTimer);
  $("quote-state").textContent = "…";
  quoteTimer = setTimeout(refreshQuote, 250);
}

async function refreshQuote() {
  const mine = ++quoteSeq;
  const body = orderBody();
  const params = new URLSearchParams({ tokenIn: body.tokenIn, tokenOut: body.tokenOut, amountIn: body.amountIn });
  if (body.slippageBps !== undefined) params.set("slippageBps", String(body.slippageBps));
  try {
    const { data } = await api("GET", `/api/quote?${params}`);
    if (mine !== quoteSeq) return; // a newer quote is on its way
    renderQuote(data);
  } catch (error) {
    if (mine !== quoteSeq) return;
    $("quote-rows").replaceChildren();
    $("quote-route").textContent = "";
    $("quote-state").textContent = problemText(error);
    $("quote-state").className = "error";
  }
}

function renderQuote(q) {
  const best = q.route.length === 1 ? q.route[0].venue : null;
  const rows = [...q.quotes]
    .sort((a, b) => (Number(b.amountOut) - Number(a.amountOut)))
    .map((v) => h("tr", { class: v.venue === best ? "chosen" : null, dataset: { venue: v.venue } },
      h("td", null, v.venue),
      h("td", { class: "num" }, `${fmt(v.amountOut)} ${q.tokenOut}`),
      h("td", { class: "num" }, `${fmt(v.feeAmount)} ${q.tokenIn}`),
      h("td", { class: "num" }, `${fmt(v.priceImpactPct)}%`)));
  $("quote-rows").replaceChildren(...rows);
  $("quote-route").replaceChildren(
    "Route: ", h("strong", null, routeText(q.dexChosen, q.route)),
    ` · expected ${fmt(q.expectedAmountOut)} ${q.tokenOut} · at least ${fmt(q.minAmountOut)} (slippage ${q.slippageBps} bps)`);
  $("quote-state").textContent = `at ${new Date().toLocaleTimeString()}`;
  $("quote-state").className = "muted";
}

async function submitOrder(event) {
  event.preventDefault();
  const error = $("form-error");
  error.hidden = true;
  $("submit").disabled = true;
  try {
    const body = orderBody();
    const { data } = await api("POST", "/api/orders/execute", body);
    const card = orderCard(data.orderId, body.tokenIn, body.tokenOut, body.amountIn, body.type, body.limitPrice);
    follow(card, 0);
    refreshRecent();
    if (body.type === "limit") refreshLimits();
  } catch (failure) {
    error.textContent = problemText(failure);
    error.hidden = false;
  } finally {
    $("submit").disabled = false;
  }
}

// --- Live orders: one card per order, its timeline filled as events arrive
const cards = new Map();

function orderCard(orderId, tokenIn, tokenOut, amountIn, type, limitPrice) {
  if (cards.has(orderId)) return cards.get(orderId);
  const lifecycle = type === "limit" ? LIMIT_LIFECYCLE : LIFECYCLE;
  const steps = lifecycle.map((status) => h("li", { class: "step", dataset: { step: status } },
    h("span", { class: "dot" }), h("span", { class: "name" }, status), h("span", { class: "at" }), h("span", { class: "what" })));
  const card = h("article", { class: "order", dataset: { orderId, status: "pending" } },
    h("header", null,
      h("code", { title: orderId }, shortId(orderId)),
      h("span", { class: "pair" }, `${fmt(amountIn)} ${tokenIn} → ${tokenOut}`
        + (type === "limit" ? ` · limit ${fmt(limitPrice)}` : "")),
      h("span", { class: "badge status-pending" }, "pending")),
    h("ol", { class: "timeline" }, steps),
    h("p", { class: "result" }));
  card.state = { lastSeq: 0, firstAt: null, tokenIn, tokenOut, type, limitPrice, tries: 0, socket: null };
  cards.set(orderId, card);
  $("live-empty").hidden = true;
  $("orders").prepend(card);
  return card;
}

function stepText(e, card) {
  const { tokenIn, tokenOut } = card.state;
  switch (e.status) {
    case "routing":
      return (e.quotes || []).map((q) => `${q.venue} ${fmt(q.amountOut)}`).join(" · ") || "asking both venues";
    case "building":
      return `${routeText(e.dexChosen, e.route)} · min out ${fmt(e.minAmountOut)} ${tokenOut}`;
    case "submitted":
      return e.txHash ? `tx ${e.txHash.slice(0, 16)}…` : "";
    case "confirmed":
      return `${fmt(e.amountOut)} ${tokenOut} at ${fmt(e.executedPrice)} ${tokenOut}/${tokenIn}`;
    case "open":
      return e.missedPrice
        ? `missed at ${fmt(e.missedPrice)}: waits again for ${fmt(e.limitPrice)}`
        : `waits for ${fmt(card.state.limitPrice)} ${tokenOut}/${tokenIn}`;
    case "cancelled":
      return "cancelled";
    case "expired":
      return "expired before the market paid its price";
    case "failed":
      return `${e.errorCode || "failed"}: ${e.error || ""}`;
    default:
      return "";
  }
}

function applyEvent(card, e) {
  if (e.seq <= card.state.lastSeq) return; // already shown (a resumed stream repeats nothing, but be sure)
  card.state.lastSeq = e.seq;
  const at = new Date(e.at);
  if (card.state.firstAt === null) card.state.firstAt = at;
  let step = card.querySelector(`[data-step="${e.status}"]`);
  if (!step) { // failed, or a retry
    step = h("li", { class: "step", dataset: { step: e.status } },
      h("span", { class: "dot" }), h("span", { class: "name" }, e.status), h("span", { class: "at" }), h("span", { class: "what" }));
    card.querySelector(".timeline").append(step);
  }
  step.classList.add("done", `status-${e.status}`);
  step.querySelector(".at").textContent = `+${((at - card.state.firstAt) / 1000).toFixed(2)}s`;
  step.querySelector(".what").textContent = stepText(e, card) + (e.attempt > 1 ? ` (attempt ${e.attempt})` : "");
  card.dataset.status = e.status;
  const badge = card.querySelector(".badge");
  badge.textContent = e.status;
  badge.className = `badge status-${e.status}`;
  if (e.status === "failed" || e.status === "cancelled" || e.status === "expired") {
    card.querySelectorAll(".step:not(.done)").forEach((s) => s.classList.add("skipped"));
  }
  if (TERMINAL.has(e.status)) {
    card.querySelector(".result").textContent = stepText(e, card);
    refreshRecent();
  }
  if (card.state.type === "limit" && e.status !== "pending") scheduleLimits();
}

function follow(card, attempt) {
  const orderId = card.dataset.orderId;
  const after = card.state.lastSeq ? `&afterSeq=${card.state.lastSeq}` : "";
  const url = `${WS_BASE}/api/orders/ws?orderId=${encodeURIComponent(orderId)}${after}`;
  const key = apiKey();
  // With a key, offer `orders.v1` (which the notifier picks) beside `bearer.<key>` (which carries it):
  // a browser drops a socket whose server picks none of the offered subprotocols.
  const socket = key ? new WebSocket(url, ["orders.v1", `bearer.${key}`]) : new WebSocket(url);
  card.state.socket = socket;
  socket.onmessage = (message) => {
    const frame = JSON.parse(message.data);
    if (frame.status === "ws_connected") return;
    if (frame.status === "error") {
      card.dataset.status = "error";
      card.querySelector(".result").textContent = `stream: ${frame.error}`;
      return;
    }
    attempt = 0;
    applyEvent(card, frame);
  };
  socket.onclose = (close) => {
    if (TERMINAL.has(card.dataset.status) || card.dataset.status === "error" || close.code === 1008) return;
    if (attempt >= 5) {
      card.querySelector(".result").textContent = `lost the stream (close ${close.code}); reload to resume`;
      return;
    }
    // Reconnect and resume after the last event shown: nothing lost, nothing twice.
    setTimeout(() => follow(card, attempt + 1), Math.min(250 * 2 ** attempt, 4000));
  };
}

// --- Recent orders
async function refreshRecent() {
  try {
    const { data } = await api("GET", "/api/orders?limit=10");
    const rows = data.orders.map((o) => h("tr", { dataset: { orderId: o.orderId, status: o.status } },
      h("td", null, new Date(o.createdAt).toLocaleTimeString()),
      h("td", null, h("a", { href: "#", title: "watch", onclick: (ev) => { ev.preventDefault(); watch(o); } },
        h("code", null, shortId(o.orderId)))),
      h("td", null, o.type),
      h("td", null, `${o.tokenIn} → ${o.tokenOut}`),
      h("td", { class: "num" }, fmt(o.amountIn)),
      h("td", null, h("span", { class: `badge status-${o.status}` }, o.status)),
      h("td", null, routeText(o.dexChosen, o.route)),
      h("td", { class: "num" }, fmt(o.amountOut))));
    $("recent-rows").replaceChildren(...rows);
  } catch (error) {
    $("recent-rows").replaceChildren(h("tr", null, h("td", { colspan: "8", class: "error" }, problemText(error))));
  }
}

function watch(order) {
  const existing = cards.get(order.orderId);
  if (existing) { existing.scrollIntoView({ block: "nearest" }); return; }
  follow(orderCard(order.orderId, order.tokenIn, order.tokenOut, order.amountIn, order.type, order.limitPrice), 0);
}


// --- The market chart: both venues' spot prices (quote per base) over the last minutes, from the api's
// own samples (GET /api/market/{pair}/prices), with the open limit orders of the pair as dashed lines.
const SVG_NS = "http://www.w3.org/2000/svg";
const CHART = { width: 900, height: 280, left: 78, right: 150, top: 14, bottom: 26 };
const VENUE_CLASS = { raydium: "series-raydium", meteora: "series-meteora" };
let chartPoints = [];
let openLimits = [];
let chartSeq = 0;

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) el.setAttribute(name, String(value));
  }
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

function chartPair() { return $("chart-pair").value; }

// A float of the chart's scale as a decimal string of about 6 significant digits, never in exponent form.
function numText(v) {
  const digits = Math.max(0, 5 - Math.floor(Math.log10(Math.abs(v) || 1)));
  return v.toFixed(Math.min(20, digits));
}

async function refreshChart() {
  const mine = ++chartSeq;
  const pair = chartPair();
  try {
    const { data } = await api("GET", `/api/market/${encodeURIComponent(pair)}/prices?seconds=${CHART_SECONDS}`);
    if (mine !== chartSeq) return;
    chartPoints = data.points;
    drawChart(data);
  } catch (error) {
    if (mine !== chartSeq) return;
    chartPoints = [];
    drawChart({ base: pair.split("-")[0], quote: pair.split("-")[1], points: [] }, problemText(error));
  }
}

// A limit order's price as this pair's chart reads it (quote per base): a sale of the base token names
// quote per base already; a sale of the quote token names base per quote.
function limitOnChart(order, base, quote) {
  const price = Number(order.limitPrice);
  if (order.tokenIn === base && order.tokenOut === quote) return price;
  if (order.tokenIn === quote && order.tokenOut === base && price > 0) return 1 / price;
  return null;
}

function drawChart(data, problem) {
  const chart = $("chart");
  const { width, height, left, right, top, bottom } = CHART;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  // The time axis spans the samples there are (a fresh api has few), between one minute and CHART_SECONDS.
  const now = data.points.length ? data.points[data.points.length - 1].t : Math.floor(Date.now() / 1000);
  const first = data.points.length ? data.points[0].t : now;
  const span = Math.min(CHART_SECONDS, Math.max(60, now - first));
  const t0 = now - span;
  const values = [];
  for (const p of data.points) for (const venue of ["raydium", "meteora"]) if (p[venue] !== null) values.push(Number(p[venue]));
  const limits = openLimits
    .map((o) => ({ order: o, y: limitOnChart(o, data.base, data.quote) }))
    .filter((l) => l.y !== null);
  chart.replaceChildren();
  chart.dataset.points = String(data.points.length);
  chart.dataset.pair = `${data.base}-${data.quote}`;
  if (!values.length) {
    chart.append(svg("text", { x: width / 2, y: height / 2, class: "empty", "text-anchor": "middle" },
      problem || "waiting for the api's first samples…"));
    $("chart-legend").textContent = "";
    return;
  }
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  // Limit prices near the market widen the scale; far ones are pinned to its edge, labelled.
  const last = values[values.length - 1];
  for (const l of limits) if (Math.abs(l.y - last) / last < 0.15) { lo = Math.min(lo, l.y); hi = Math.max(hi, l.y); }
  const pad = (hi - lo) * 0.12 || Math.abs(hi) * 0.001 || 1;
  lo -= pad; hi += pad;
  const x = (t) => left + ((t - t0) / span) * plotW;
  const y = (v) => top + (1 - (v - lo) / (hi - lo)) * plotH;

  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    chart.append(svg("line", { x1: left, x2: left + plotW, y1: y(v), y2: y(v), class: "grid" }));
    chart.append(svg("text", { x: left - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, fmt(numText(v))));
  }
  for (let i = 0; i <= 5; i++) {
    const ago = Math.round((span * (5 - i)) / 5);
    const label = ago === 0 ? "latest" : ago % 60 === 0 ? `−${ago / 60}m` : `−${ago}s`;
    chart.append(svg("text", { x: x(now - ago), y: height - 6, class: "axis", "text-anchor": "middle" }, label));
  }
  for (const venue of ["raydium", "meteora"]) {
    const pts = data.points.filter((p) => p[venue] !== null && p.t >= t0)
      .map((p) => `${x(p.t).toFixed(1)},${y(Number(p[venue])).toFixed(1)}`);
    if (pts.length === 1) pts.push(pts[0].replace(/^[\d.]+/, (n) => String(Number(n) + 2)));
    chart.append(svg("polyline", { points: pts.join(" "), class: `series ${VENUE_CLASS[venue]}`, "data-venue": venue }));
  }
  for (const l of limits) {
    const pinned = l.y > hi ? "↑ " : l.y < lo ? "↓ " : "";
    const ly = y(Math.min(hi, Math.max(lo, l.y)));
    const g = svg("g", { class: "limit", "data-order-id": l.order.orderId });
    g.append(svg("line", { x1: left, x2: left + plotW, y1: ly, y2: ly }));
    g.append(svg("text", { x: left + plotW + 6, y: ly + 4 },
      `${pinned}limit ${fmt(l.order.limitPrice)} · ${shortId(l.order.orderId)}`));
    chart.append(g);
  }
  const newest = data.points[data.points.length - 1];
  $("chart-legend").replaceChildren(
    h("span", { class: "key-raydium" }, `raydium ${fmt(newest.raydium)}`),
    h("span", { class: "key-meteora" }, `meteora ${fmt(newest.meteora)}`),
    h("span", { class: "muted" }, `${data.quote} per ${data.base}`));
}

// --- Open limit orders: listed with why each waits, and a cancel button (DELETE /api/orders/{id})
let limitsSeq = 0;
let limitsTimer = null;

// Several events in a row (a fill streams four) make one refresh, not one each.
function scheduleLimits() {
  clearTimeout(limitsTimer);
  limitsTimer = setTimeout(refreshLimits, 300);
}

async function refreshLimits() {
  const mine = ++limitsSeq;
  try {
    const { data } = await api("GET", "/api/orders?type=limit&status=open&limit=20");
    // Each one's detail says why it waits (the best route's price now, against its limit).
    const details = await Promise.all(data.orders.map((o) =>
      api("GET", `/api/orders/${o.orderId}`).then((r) => r.data, () => o)));
    if (mine !== limitsSeq) return;
    openLimits = details.filter((o) => o.status === "open");
    renderLimits();
    drawChart({ base: chartPair().split("-")[0], quote: chartPair().split("-")[1], points: chartPoints });
  } catch (error) {
    if (mine !== limitsSeq) return;
    $("limit-rows").replaceChildren(h("tr", null, h("td", { colspan: "6", class: "error" }, problemText(error))));
  }
}

function renderLimits() {
  $("limits-empty").hidden = openLimits.length > 0;
  document.querySelector("table.limits").hidden = openLimits.length === 0;
  $("limit-rows").replaceChildren(...openLimits.map((o) => h("tr", { dataset: { orderId: o.orderId } },
    h("td", null, h("code", { title: o.orderId }, shortId(o.orderId))),
    h("td", null, `${o.tokenIn} → ${o.tokenOut}`),
    h("td", { class: "num" }, fmt(o.amountIn)),
    h("td", { class: "num" }, fmt(o.limitPrice)),
    h("td", { class: "why" }, o.waitingReason || ""),
    h("td", null, h("button", { type: "button", class: "small cancel", onclick: () => cancelOrder(o.orderId) }, "cancel")))));
}

async function cancelOrder(orderId) {
  const row = document.querySelector(`#limit-rows tr[data-order-id="${orderId}"]`);
  if (row) row.querySelector("button").disabled = true;
  try {
    await api("DELETE", `/api/orders/${orderId}`);
  } catch (error) {
    // 409: it fired or expired first; the list below shows where it went.
    $("form-error").textContent = `cancel ${shortId(orderId)}: ${problemText(error)}`;
    $("form-error").hidden = false;
  }
  refreshLimits();
  refreshRecent();
}

// --- Launches (GET /api/market/launches): an api without launches answers 404, shown as none.
async function refreshLaunches() {
  let launches = [];
  try {
    const { data } = await api("GET", "/api/market/launches");
    launches = (data && data.launches) || [];
  } catch (error) {
    if (error.status !== 404) $("launches-empty").textContent = problemText(error);
  }
  $("launches-empty").hidden = launches.length > 0;
  document.querySelector("table.launches").hidden = launches.length === 0;
  $("launch-rows").replaceChildren(...launches.map((l) => h("tr", { dataset: { symbol: l.symbol, status: l.status } },
    h("td", null, h("strong", null, l.symbol), " ", h("code", { title: l.mint }, String(l.mint || "").slice(0, 6) + "…")),
    h("td", null, l.pair),
    h("td", null, l.opensAt ? new Date(l.opensAt).toLocaleTimeString() : "—"),
    h("td", { class: "num" }, fmt(l.price)),
    h("td", { class: "num" }, fmt(l.liquidity)),
    h("td", null, h("span", { class: `badge status-${l.status}` }, l.status)))));
  // An open launch's pair can be charted.
  for (const l of launches) {
    const pair = String(l.pair || "").replace("/", "-");
    if (l.status === "open" && pair && ![...$("chart-pair").options].some((o) => o.value === pair)) {
      $("chart-pair").append(h("option", { value: pair }, pair.replace("-", "/")));
    }
  }
}

// The chart follows the order form's pair, in its pool's order.
function chartPairFor(tokenIn, tokenOut) {
  return [`${tokenIn}-${tokenOut}`, `${tokenOut}-${tokenIn}`].find((p) => [...$("chart-pair").options].some((o) => o.value === p));
}

// --- Start
function init() {
  PAIRS.forEach(([a, b], i) => $("pair").append(h("option", { value: String(i) }, `${a} → ${b}`)));
  POOL_PAIRS.forEach((p) => $("chart-pair").append(h("option", { value: p }, p.replace("-", "/"))));
  $("amount-token").textContent = selectedPair()[0];
  $("ws-url").textContent = `${WS_BASE}/api/orders/ws`;
  $("api-key").value = apiKey();
  $("key-form").addEventListener("submit", (event) => { event.preventDefault(); $("api-key").blur(); });
  $("api-key").addEventListener("change", () => {
    const key = $("api-key").value.trim();
    if (key) sessionStorage.setItem(KEY_STORAGE, key); else sessionStorage.removeItem(KEY_STORAGE);
    scheduleQuote();
    refreshRecent();
    refreshLimits();
  });
  $("pair").addEventListener("change", () => {
    const tokenIn = selectedPair()[0];
    $("amount-token").textContent = tokenIn;
    $("amount").value = DEFAULT_AMOUNT[tokenIn] || "1";
    const pair = chartPairFor(...selectedPair());
    if (pair && pair !== chartPair()) { $("chart-pair").value = pair; refreshChart(); }
    showOrderType();
    scheduleQuote();
  });
  $("order-type").addEventListener("change", showOrderType);
  $("chart-pair").addEventListener("change", refreshChart);
  $("amount").addEventListener("input", scheduleQuote);
  $("slippage").addEventListener("input", scheduleQuote);
  $("order-form").addEventListener("submit", submitOrder);
  $("refresh").addEventListener("click", refreshRecent);
  setInterval(() => { if (!document.hidden) refreshQuote(); }, 5000); // the market moves: keep the quote fresh
  setInterval(() => { if (!document.hidden) refreshChart(); }, 2000);
  setInterval(() => { if (!document.hidden) refreshLimits(); }, 5000);
  setInterval(() => { if (!document.hidden) refreshLaunches(); }, 10000);
  showOrderType();
  refreshQuote();
  refreshRecent();
  refreshChart();
  refreshLimits();
  refreshLaunches();
}

init();
