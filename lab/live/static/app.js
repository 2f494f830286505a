// hblab live: draws the snapshots that /events pushes (Server-Sent Events).
// No framework and no build step: the SVG is made once from the hello's layout,
// then each snapshot only changes colours, texts and the VIP badge's place.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const STATE_COLOURS = {
  active: "#81c784", up: "#fff176", init: "#fff176", starting: "#fff176",
  stopped: "#cfd8dc", crashed: "#e57373", off: "#90a4ae", "?": "#eeeeee",
};
const ROLE_COLOURS = { gw: "#f1f8e9", client: "#fff3e0" };
const PROBE_COLOURS = ["#43a047", "#1e88e5", "#8e24aa", "#00897b"];
const SILENCE_MS = 5000;  // no message (not even a keepalive) for this long: reopen
const BEAT_MS = 600;       // a heartbeat's trip along the drawing

let hello = null;
let source = null;
let lastMessage = 0;
let reconnects = 0;
let everConnected = false;
const $ = (id) => document.getElementById(id);

function el(tag, attrs, parent) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function hostOf(name) { return hello.layout.hosts.find((h) => h.name === name); }
function segmentOf(name) { return hello.layout.segments.find((s) => s.name === name); }

// -- the drawing, once per hello -------------------------------------------------------------
function draw() {
  const svg = $("topo");
  const lay = hello.layout;
  svg.setAttribute("viewBox", `0 0 ${lay.width} ${lay.height}`);
  svg.innerHTML = "";
  const cables = el("g", { id: "cables" }, svg);
  for (const host of lay.hosts) {
    for (const iface of host.interfaces) {
      const seg = segmentOf(iface.segment);
      el("line", { id: `cable-${host.name}-${iface.name}`, class: "cable",
                   x1: host.x, y1: host.y, x2: seg.x, y2: seg.y }, cables);
      const [x, y, anchor] = labelPoint(host, seg);
      const label = el("text", { id: `label-${host.name}-${iface.name}`, class: "cable-label",
                                 x, y, "text-anchor": anchor }, cables);
      label.textContent = iface.name;
      const addr = el("text", { class: "cable-label", x, y: y + 14, "text-anchor": anchor }, cables);
      addr.textContent = iface.address;
    }
  }
  el("g", { id: "beats" }, svg);  // under the boxes: a heartbeat travels the cables
  for (const seg of lay.segments) {
    const g = el("g", { class: "bridge" }, svg);
    el("rect", { x: seg.x - 85, y: seg.y - 32, width: 170, height: 64, rx: 8 }, g);
    const t = el("text", { x: seg.x, y: seg.y - 8, "text-anchor": "middle", "font-size": 13 }, g);
    t.textContent = seg.bridge;
    const u = el("text", { x: seg.x, y: seg.y + 10, "text-anchor": "middle", "font-size": 11 }, g);
    u.textContent = seg.subnet;
    const p = el("text", { x: seg.x, y: seg.y + 25, "text-anchor": "middle", "font-size": 10 }, g);
    p.textContent = seg.purpose;
  }
  for (const host of lay.hosts) {
    const g = el("g", { id: `node-${host.name}`, class: "host", "data-state": "?" }, svg);
    const wide = host.role === "node" ? 230 : 150;
    el("rect", { x: host.x - wide / 2, y: host.y - 42, width: wide, height: 84, rx: 10,
                 fill: ROLE_COLOURS[host.role] || "#eeeeee" }, g);
    const name = el("text", { class: "name", x: host.x, y: host.y - 18, "text-anchor": "middle" }, g);
    name.textContent = host.name;
    el("text", { class: "detail status", x: host.x, y: host.y + 2, "text-anchor": "middle" }, g);
    el("text", { class: "detail peers", x: host.x, y: host.y + 18, "text-anchor": "middle" }, g);
    el("text", { class: "detail resources", x: host.x, y: host.y + 34, "text-anchor": "middle" }, g);
  }
  el("g", { id: "badges" }, svg);
  $("vip-ip").textContent = `${lay.vip} on ${lay.vip_label}`;
  buildControls();
}

// Beside the middle of the cable, on its outer side, so two cables of one host never
// share a label's place; above a horizontal cable, between the boxes.
function labelPoint(host, seg) {
  if (Math.abs(host.y - seg.y) < 1) {
    const hostEdge = host.x + Math.sign(seg.x - host.x) * 75;
    const segEdge = seg.x - Math.sign(seg.x - host.x) * 85;
    return [(hostEdge + segEdge) / 2, host.y - 26, "middle"];
  }
  const x = (host.x + seg.x) / 2, y = (host.y + seg.y) / 2;
  return seg.x < host.x ? [x - 10, y, "end"] : [x + 10, y, "start"];
}

// -- buttons -----------------------------------------------------------------------------------
function buildControls() {
  const box = $("controls");
  box.innerHTML = "";
  const hbIface = hello.layout.heartbeat_ifaces[0] || "eth1";
  for (const name of hello.cluster) {
    const div = document.createElement("div");
    div.className = "ctl";
    div.innerHTML = `<h3>${name}</h3>`;
    const buttons = [
      ["poweroff", "power off", {}], ["poweron", "power on", {}], ["crash", "crash daemon", {}],
      ["link", `${hbIface} down`, { iface: hbIface, arg: "down" }],
      ["link", `${hbIface} up`, { iface: hbIface, arg: "up" }],
      ["link", "eth0 down", { iface: "eth0", arg: "down" }],
      ["link", "eth0 up", { iface: "eth0", arg: "up" }],
      ["netem", `${hbIface} loss 30%`, { iface: hbIface, arg: "30%" }],
      ["netem", `${hbIface} clear`, { iface: hbIface, arg: "clear" }],
      ["standby", "hb_standby", {}], ["takeover", "hb_takeover", {}],
    ];
    for (const [kind, text, extra] of buttons) {
      const b = document.createElement("button");
      b.textContent = text;
      const id = [kind, name, extra.iface, extra.arg].filter(Boolean).join("-").replace("%", "");
      b.dataset.testid = `btn-${id}`;
      b.disabled = !hello.controls;
      b.onclick = () => act({ kind, node: name, ...extra }, b);
      div.appendChild(b);
    }
    box.appendChild(div);
  }
}

async function act(action, button) {
  const out = $("action-result");
  out.className = "";
  out.textContent = `running: ${action.kind} ${action.node} ${action.iface || ""} ${action.arg || ""}`;
  button.disabled = true;
  try {
    const answer = await fetch("/api/action", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(action),
    });
    const body = await answer.json();
    out.textContent = body.ok ? `done: ${body.done}` : `refused: ${body.error}`;
    if (!body.ok) out.className = "error";
  } catch (err) {
    out.textContent = `no answer from hblab web (${err})`;
    out.className = "error";
  } finally {
    button.disabled = !hello.controls;
  }
}

// -- each snapshot -----------------------------------------------------------------------------
function update(snap) {
  if (!hello) return;
  for (const node of snap.nodes) updateNode(node);
  updateVip(snap);
  updateProbe(snap);
  updateEvents(snap);
  for (const beat of snap.beats) animateBeat(beat);
  const t = snap.timers || {};
  $("timers").textContent = t.deadtime ? `keepalive ${t.keepalive}s, deadtime ${t.deadtime}s` : "";
  $("stats").textContent = `model ${snap.stats.rate.toFixed(1)}/s, CPU ${snap.stats.cpu.toFixed(1)}%`;
  const mode = $("mode");
  mode.dataset.mode = hello.mode;
  if (hello.mode === "replay") {
    const [i, n] = snap.replay || [0, 0];
    mode.textContent = `replay of ${hello.source} (${i}/${n}) — buttons off`;
  } else {
    mode.textContent = `${snap.backend} lab ${snap.lab === "up" ? "" : "(not up)"}`;
  }
}

function updateNode(node) {
  const g = $(`node-${node.name}`);
  if (!g) return;
  const state = node.role === "node" ? (node.status || "?") : node.power;
  g.dataset.state = state;
  g.dataset.power = node.power;
  const rect = g.querySelector("rect");
  if (node.role === "node") rect.setAttribute("fill", STATE_COLOURS[state] || "#eeeeee");
  else rect.setAttribute("fill", node.power === "on" ? ROLE_COLOURS[node.role] : STATE_COLOURS.off);
  const status = g.querySelector(".status");
  const peers = g.querySelector(".peers");
  const res = g.querySelector(".resources");
  if (node.role === "node") {
    status.textContent = `${node.impl || "?"}: ${node.power === "off" ? "powered off" : state}`;
    peers.textContent = Object.entries(node.peers).map(([p, s]) => `sees ${p} ${s}`).join(", ");
    res.textContent = node.power === "on" ? `VIP ${node.vip ? "✔" : "–"}  nginx ${node.nginx ? "✔" : "–"}` : "";
  } else {
    status.textContent = node.power === "on" ? node.role : "powered off";
  }
  for (const link of node.links) {
    const cable = $(`cable-${node.name}-${link.iface}`);
    const label = $(`label-${node.name}-${link.iface}`);
    if (!cable) continue;
    let cls = "cable";
    if (link.state === "down") cls += " down";
    else if (link.state === "off") cls += " off";
    else if (link.faults.length) cls += " fault";
    cable.setAttribute("class", cls);
    cable.dataset.state = link.state;
    let text = link.iface;
    if (link.state === "down") text += " DOWN";
    if (link.heard_age !== null && link.state !== "off") text += ` ♥ ${link.heard_age.toFixed(1)}s ago`;
    const faults = link.faults.filter((f) => f !== "down");
    if (faults.length) text += ` [${faults.join(", ")}]`;
    label.textContent = text;
  }
}

function updateVip(snap) {
  const vip = snap.vip;
  const holder = $("vip-holder");
  holder.textContent = vip.holders.length ? vip.holders.join(" and ") : "nobody";
  holder.dataset.holders = vip.holders.join(",");
  $("vip-arp").textContent = vip.arp.length ? vip.arp.join(" and ") : "none";
  $("vip-panel").dataset.split = String(vip.split);
  const badges = $("badges");
  badges.innerHTML = "";
  for (const name of vip.holders) {
    const host = hostOf(name);
    if (!host) continue;
    const g = el("g", { class: vip.split ? "vip-badge split" : "vip-badge", "data-holder": name }, badges);
    const y = host.y < hello.layout.height / 2 ? host.y - 70 : host.y + 48;
    el("rect", { x: host.x - 95, y, width: 190, height: 24, rx: 12 }, g);
    const t = el("text", { x: host.x, y: y + 17, "text-anchor": "middle", "font-size": 13, "font-weight": "bold" }, g);
    t.textContent = `${vip.split ? "TWO HOLDERS " : ""}VIP ${hello.layout.vip}`;
  }
}

// One gradient of runs (a run: probes with the same answer) instead of an element per
// probe: the strip changes five times a second and must cost the browser nothing.
function updateProbe(snap) {
  const strip = $("probe");
  const n = snap.probe.length;
  const stops = [];
  for (let i = 0; i < n;) {
    let j = i;
    while (j < n && snap.probe[j] === snap.probe[i]) j++;
    const code = snap.probe[i];
    const colour = code === "." ? "#e53935" : PROBE_COLOURS[Number(code) % PROBE_COLOURS.length];
    stops.push(`${colour} ${(100 * i / n).toFixed(2)}% ${(100 * j / n).toFixed(2)}%`);
    i = j;
  }
  strip.style.background = stops.length ? `linear-gradient(to right, ${stops.join(", ")})` : "white";
  const last = snap.probe.slice(-1);
  strip.dataset.last = last === "." ? "fail" : (last ? hello.cluster[Number(last)] : "");
  if ($("probe-legend").dataset.done) return;
  $("probe-legend").dataset.done = "1";
  $("probe-legend").innerHTML = hello.cluster
    .map((n, i) => `<span style="color:${PROBE_COLOURS[i % PROBE_COLOURS.length]}">■</span> ${n}`)
    .join(" ") + ` <span style="color:#e53935">■</span> failed (one probe every ${snap.probe_interval}s)`;
}

function updateEvents(snap) {
  const list = $("events");
  const key = snap.events.length ? snap.events[snap.events.length - 1].join("|") + snap.events.length : "";
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.innerHTML = "";
  for (const [t, who, text] of [...snap.events].reverse()) {
    const li = document.createElement("li");
    if (who === "hblab") li.className = "hblab";
    const when = new Date(t * 1000).toLocaleTimeString([], { hour12: false }) +
      "." + String(Math.floor((t % 1) * 1000)).padStart(3, "0");
    li.innerHTML = `<span class="when">${when}</span><span class="who"></span><span class="what"></span>`;
    li.querySelector(".who").textContent = who;
    li.querySelector(".what").textContent = text;
    list.appendChild(li);
  }
}

function animateBeat([, src, dst, iface]) {
  const from = hostOf(src), to = hostOf(dst);
  const seg = from && from.interfaces.find((i) => i.name === iface);
  const mid = seg && segmentOf(seg.segment);
  const layer = $("beats");
  if (!from || !to || !mid || !layer || layer.childNodes.length > 30) return;
  const dot = el("circle", { class: "beat", r: 7, cx: from.x, cy: from.y }, layer);
  const points = [[from.x, from.y], [mid.x, mid.y], [to.x, to.y]];
  const started = performance.now();
  function step(now) {
    const f = Math.min(1, (now - started) / BEAT_MS);
    const [a, b] = f < 0.5 ? [points[0], points[1]] : [points[1], points[2]];
    const g = f < 0.5 ? f * 2 : (f - 0.5) * 2;
    dot.setAttribute("cx", a[0] + (b[0] - a[0]) * g);
    dot.setAttribute("cy", a[1] + (b[1] - a[1]) * g);
    if (f < 1) requestAnimationFrame(step); else dot.remove();
  }
  requestAnimationFrame(step);
}

// -- the stream: EventSource reconnects by itself; a silent stream is reopened -----------------
function setConn(state) {
  const conn = $("conn");
  conn.dataset.state = state;
  conn.dataset.reconnects = String(reconnects);
  conn.textContent = state === "live" ? `live${reconnects ? ` (reconnected ${reconnects}×)` : ""}`
                                      : `${state}…`;
}

function connect() {
  if (source) source.close();
  source = new EventSource("/events");
  lastMessage = Date.now();
  source.addEventListener("ping", () => { lastMessage = Date.now(); });
  source.addEventListener("hello", (e) => {
    lastMessage = Date.now();
    const next = JSON.parse(e.data);
    const first = hello === null || JSON.stringify(next.layout) !== JSON.stringify(hello.layout);
    if (everConnected && hello && next.server !== hello.server) reconnects += 1;
    hello = next;
    everConnected = true;
    if (first) draw(); else buildControls();
    $("topo").dataset.server = String(hello.server);
    setConn("live");
  });
  source.addEventListener("state", (e) => {
    lastMessage = Date.now();
    update(JSON.parse(e.data));
  });
  source.onerror = () => { setConn(everConnected ? "reconnecting" : "connecting"); };
}

// The server sends a "ping" event every two seconds: a stream silent for longer is dead
// (a proxy or a half-open connection EventSource cannot notice), so open a new one.
setInterval(() => {
  if (Date.now() - lastMessage >= SILENCE_MS) {
    setConn(everConnected ? "reconnecting" : "connecting");
    connect();
  }
}, 1000);

connect();
