// wrtc_offer.js - libwebrtc (@roamhq/wrtc, the ICE code of Chrome) makes
// an offer with a data channel, as a browser does, and a raw ICE agent
// answers it: the command after "--" gets the offer's whole SDP body on its
// stdin (closed after the body) and writes its RFC 8839 attribute block
// (a=ice-ufrag, a=ice-pwd, a=candidate lines, a=end-of-candidates) first on
// its stdout; what follows is its report.  The harness wraps that block into a minimal SDP answer:
// the block's ICE attributes, a dummy DTLS fingerprint and a=setup:active,
// so that libwebrtc is the DTLS server and waits (DTLS never starts; the
// answerer is no DTLS endpoint).  libwebrtc's own iceConnectionState then
// stays "checking" while DTLS waits, so its ICE result is read from getStats:
// the transport's iceState and its selected candidate pair.
//
// node wrtc_offer.js [--turn H:P --user U --pass P [--turn-tcp]] [--relay-only]
//   [--tag T] [--timeout S] -- CMD [ARG]...
// Prints (stderr) the offer and answer lines, CMD's output as "R | ...", and
// "T iceState connected; selected LTYPE ADDR:PORT -> RTYPE ADDR:PORT
// nominated BOOL" once ICE is up; it keeps the connection until CMD exits
// ("T answerer exited N") so that CMD's consent checks are answered.
// Exit status: 0 iceState connected (whatever CMD's status); 1 iceState
// failed, or CMD exited without connecting; 2 timeout; 3 usage.
"use strict";
const { RTCPeerConnection } = require("@roamhq/wrtc");
const { spawn } = require("child_process");

const argv = process.argv.slice(2);
const dd = argv.indexOf("--");
const args = dd >= 0 ? argv.slice(0, dd) : argv;
const cmd = dd >= 0 ? argv.slice(dd + 1) : [];
const withValue = new Set(["--turn", "--user", "--pass", "--tag", "--timeout"]);
const flags = new Set(["--turn-tcp", "--relay-only"]);
for (let i = 0; i < args.length; i++) {
  if (withValue.has(args[i]) && i + 1 < args.length) i++;
  else if (!flags.has(args[i])) { cmd.length = 0; break; }
}
if (cmd.length === 0) {
  console.error("usage: node wrtc_offer.js [--turn H:P --user U --pass P [--turn-tcp]] " +
    "[--relay-only] [--tag T] [--timeout S] -- CMD [ARG]...");
  process.exit(3);
}
const opt = (k, d) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : d; };
const tag = opt("--tag", "L");
const log = (...m) => console.error(tag, ...m);
const t0 = Date.now();

const iceServers = [];
if (opt("--turn")) {
  iceServers.push({ urls: `turn:${opt("--turn")}?transport=${args.includes("--turn-tcp") ? "tcp" : "udp"}`,
    username: opt("--user"), credential: opt("--pass") });
}
// A relay-only policy keeps libwebrtc off the machine's other interfaces.
const pc = new RTCPeerConnection({ iceServers,
  iceTransportPolicy: args.includes("--relay-only") ? "relay" : "all" });

let child, childExit = null, connected = false, finished = false;
function finish(code) {
  if (finished) return;
  finished = true;
  try { pc.close(); } catch (e) { /* closing twice */ }
  if (child && childExit === null) child.kill("SIGTERM");
  setTimeout(() => process.exit(code), 100);
}
setTimeout(() => { log("timeout"); finish(2); }, 1000 * Number(opt("--timeout", 20))).unref();

pc.onicecandidateerror = (e) => log(`candidate error url=${e.url} code=${e.errorCode} text=${e.errorText}`);

const gathered = new Promise((resolve) => {
  pc.onicecandidate = (e) => { if (!e.candidate) resolve(); };
});

// The answerer's block and the offer's m= section into a minimal answer.
function answerSdp(offer, block) {
  const mid = (offer.match(/^a=mid:(\S+)/m) || [null, "0"])[1];
  const fp = Array(32).fill("AB").join(":");
  const ice = block.filter((l) => /^a=(ice-ufrag|ice-pwd|candidate|end-of-candidates)/.test(l));
  return ["v=0", `o=- ${Date.now()} 2 IN IP4 127.0.0.1`, "s=-", "t=0 0",
    `a=group:BUNDLE ${mid}`, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
    "c=IN IP4 0.0.0.0", ...ice.filter((l) => !l.startsWith("a=candidate") && !l.startsWith("a=end")),
    `a=fingerprint:sha-256 ${fp}`, "a=setup:active", `a=mid:${mid}`, "a=sctp-port:5000",
    ...ice.filter((l) => l.startsWith("a=candidate") || l.startsWith("a=end")), ""].join("\r\n");
}

// The transport's ICE state and its selected pair, from getStats.
async function iceResult() {
  const stats = new Map();
  (await pc.getStats()).forEach((r) => stats.set(r.id, r));
  for (const t of stats.values()) {
    if (t.type !== "transport") continue;
    const p = stats.get(t.selectedCandidatePairId);
    const l = p && stats.get(p.localCandidateId), r = p && stats.get(p.remoteCandidateId);
    const addr = (c) => `${c.candidateType} ${c.address || c.ip}:${c.port}`;
    return { state: t.iceState, pair: p && l && r ? `${addr(l)} -> ${addr(r)} nominated ${p.nominated}` : null };
  }
  return { state: "none", pair: null };
}

(async () => {
  pc.createDataChannel("x");
  await pc.setLocalDescription(await pc.createOffer());
  await gathered;
  const offer = pc.localDescription.sdp;
  log(`gathering done after ${Date.now() - t0} ms`);
  for (const l of offer.split(/\r?\n/)) if (l) log("offer:", l);

  child = spawn(cmd[0], cmd.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
  let got;
  const block = [], blockDone = new Promise((resolve) => { got = resolve; });
  // Whole lines of CMD's output: its block, then its report.
  const lines = (s, each) => {
    let rest = "";
    s.on("data", (d) => {
      const ls = (rest + d.toString()).split("\n");
      rest = ls.pop();
      ls.forEach(each);
    });
    s.on("end", () => { if (rest) each(rest); });
  };
  lines(child.stdout, (l) => {
    console.error(`R | ${l}`);
    if (block.length && block[block.length - 1].startsWith("a=end-of-candidates")) return;
    block.push(l.replace(/\r$/, ""));
    if (l.startsWith("a=end-of-candidates")) got();
  });
  lines(child.stderr, (l) => console.error(`R | ${l}`));
  child.on("exit", (code, sig) => {
    childExit = code === null ? 128 : code;
    log(`answerer exited ${childExit}${sig ? ` (${sig})` : ""}`);
    if (!connected) { log("the answerer ended before ICE connected"); finish(1); }
    else finish(0);
  });
  child.stdin.on("error", () => {});
  child.stdin.end(offer);

  await blockDone;
  const answer = answerSdp(offer, block);
  for (const l of answer.split("\r\n")) if (l) log("answer:", l);
  await pc.setRemoteDescription({ type: "answer", sdp: answer });

  for (;;) {
    const r = await iceResult();
    if (r.state === "connected" || r.state === "completed") {
      connected = true;
      log(`iceState ${r.state}; selected ${r.pair} after ${Date.now() - t0} ms`);
      break;
    }
    if (r.state === "failed") { log("iceState failed"); return finish(1); }
    await new Promise((res) => setTimeout(res, 50));
  }
  // Keep answering the answerer's consent checks until it concludes.
  if (childExit !== null) finish(0);
})().catch((e) => { log("error", e && e.message); finish(1); });
