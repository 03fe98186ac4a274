// The order engine's page: live quotes, submit, and each order's timeline over the WebSocket.
// Plain JavaScript, no build step. Amounts stay strings of digits (the engine never uses floats).
"use strict";

const PAIRS = [
  ["SOL", "USDC"], ["USDC", "SOL"], ["SOL", "USDT"], ["USDT", "SOL"], ["USDC", "USDT"],
  ["USDT", "USDC"], ["JUP", "SOL"], ["SOL", "JUP"], ["BONK", "SOL"], ["SOL", "BONK"],
];
const DEFAULT_AMOUNT = { SOL: "1.5", USDC: "250", USDT: "250", JUP: "1000", BONK: "10000000" };
const LIFECYCLE = ["pending", "routing", "building", "submitted", "confirmed"];
const TERMINAL = new Set(["confirmed", "failed"]);
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
  const body = { tokenIn, tokenOut, amountIn: $("amount").value.trim(), type: "market" };
  const slippage = $("slippage").value.trim();
  if (slippage !== "") body.slippageBps = Number(slippage);
  return body;
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
    const card = orderCard(data.orderId, body.tokenIn, body.tokenOut, body.amountIn);
    follow(card, 0);
    refreshRecent();
  } catch (failure) {
    error.textContent = problemText(failure);
    error.hidden = false;
  } finally {
    $("submit").disabled = false;
  }
}

// --- Live orders: one card per order, its timeline filled as events arrive
const cards = new Map();

function orderCard(orderId, tokenIn, tokenOut, amountIn) {
  if (cards.has(orderId)) return cards.get(orderId);
  const steps = LIFECYCLE.map((status) => h("li", { class: "step", dataset: { step: status } },
    h("span", { class: "dot" }), h("span", { class: "name" }, status), h("span", { class: "at" }), h("span", { class: "what" })));
  const card = h("article", { class: "order", dataset: { orderId, status: "pending" } },
    h("header", null,
      h("code", { title: orderId }, shortId(orderId)),
      h("span", { class: "pair" }, `${fmt(amountIn)} ${tokenIn} → ${tokenOut}`),
      h("span", { class: "badge status-pending" }, "pending")),
    h("ol", { class: "timeline" }, steps),
    h("p", { class: "result" }));
  card.state = { lastSeq: 0, firstAt: null, tokenIn, tokenOut, tries: 0, socket: null };
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
  if (e.status === "failed") {
    card.querySelectorAll(".step:not(.done)").forEach((s) => s.classList.add("skipped"));
  }
  if (TERMINAL.has(e.status)) {
    card.querySelector(".result").textContent = stepText(e, card);
    refreshRecent();
  }
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
      h("td", null, `${o.tokenIn} → ${o.tokenOut}`),
      h("td", { class: "num" }, fmt(o.amountIn)),
      h("td", null, h("span", { class: `badge status-${o.status}` }, o.status)),
      h("td", null, routeText(o.dexChosen, o.route)),
      h("td", { class: "num" }, fmt(o.amountOut))));
    $("recent-rows").replaceChildren(...rows);
  } catch (error) {
    $("recent-rows").replaceChildren(h("tr", null, h("td", { colspan: "7", class: "error" }, problemText(error))));
  }
}

function watch(order) {
  const existing = cards.get(order.orderId);
  if (existing) { existing.scrollIntoView({ block: "nearest" }); return; }
  follow(orderCard(order.orderId, order.tokenIn, order.tokenOut, order.amountIn), 0);
}

// --- Start
function init() {
  PAIRS.forEach(([a, b], i) => $("pair").append(h("option", { value: String(i) }, `${a} → ${b}`)));
  $("amount-token").textContent = selectedPair()[0];
  $("ws-url").textContent = `${WS_BASE}/api/orders/ws`;
  $("api-key").value = apiKey();
  $("key-form").addEventListener("submit", (event) => { event.preventDefault(); $("api-key").blur(); });
  $("api-key").addEventListener("change", () => {
    const key = $("api-key").value.trim();
    if (key) sessionStorage.setItem(KEY_STORAGE, key); else sessionStorage.removeItem(KEY_STORAGE);
    scheduleQuote();
    refreshRecent();
  });
  $("pair").addEventListener("change", () => {
    const tokenIn = selectedPair()[0];
    $("amount-token").textContent = tokenIn;
    $("amount").value = DEFAULT_AMOUNT[tokenIn] || "1";
    scheduleQuote();
  });
  $("amount").addEventListener("input", scheduleQuote);
  $("slippage").addEventListener("input", scheduleQuote);
  $("order-form").addEventListener("submit", submitOrder);
  $("refresh").addEventListener("click", refreshRecent);
  setInterval(() => { if (!document.hidden) refreshQuote(); }, 5000); // the market moves: keep the quote fresh
  refreshQuote();
  refreshRecent();
}

init();
