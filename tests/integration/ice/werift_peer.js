// werift_peer.js - one werift-ice agent behind the ICE test line protocol
// (the same as nice_peer.c): prints its RFC 8839 attribute block on stdout
// once gathering is done, reads the peer's block from stdin, runs the
// checks.  The controlling side sends "hello over ICE" every 100 ms until
// the echo returns; the controlled side echoes only once its connection is
// up (werift cannot send earlier) and leaves a second after its last echo,
// or when its stdin closes.
//
// node werift_peer.js [--controlling] [--turn H:P --user U --pass P
//   [--turn-tcp | --turn-tls --ca FILE [--sni NAME]]] [--stun H:P]
//   [--local ADDR] [--relay-only] [--tag T] [--timeout S]
// Exit status: 0 echo received or sent; 1 ICE failed; 2 timeout; 3 usage;
// 4 the peer went away.
"use strict";
const { Connection, Candidate } = require("werift-ice");
const fs = require("fs");
const readline = require("readline");

const args = process.argv.slice(2);
const known = new Set(["--controlling", "--relay-only", "--turn-tcp", "--turn-tls", "--turn",
  "--user", "--pass", "--ca", "--sni", "--stun", "--local", "--tag", "--timeout"]);
const withValue = new Set(["--turn", "--user", "--pass", "--ca", "--sni", "--stun", "--local",
  "--tag", "--timeout"]);
for (let i = 0; i < args.length; i++) {
  if (!known.has(args[i]) || (withValue.has(args[i]) && i + 1 >= args.length)) {
    console.error(`usage: node werift_peer.js [--controlling] [--turn H:P --user U --pass P ` +
      `[--turn-tcp|--turn-tls --ca FILE [--sni NAME]]] [--stun H:P] [--local ADDR] ` +
      `[--relay-only] [--tag T] [--timeout S]`);
    process.exit(3);
  }
  if (withValue.has(args[i])) i++;
}
const opt = (k, d) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : d; };
const controlling = args.includes("--controlling");
const tag = opt("--tag", "W");
const log = (...m) => console.error(tag, ...m);
const hp = (s) => { const i = s.lastIndexOf(":"); return i > 0 ? [s.slice(0, i), Number(s.slice(i + 1))] : [s, 3478]; };
const HELLO = "hello over ICE";

const o = { useIpv4: true, useIpv6: false, forceTurn: args.includes("--relay-only"),
  interfaceAddresses: { udp4: opt("--local", "127.0.0.1") } };
if (opt("--turn")) {
  Object.assign(o, { turnServer: hp(opt("--turn")), turnUsername: opt("--user"),
    turnPassword: opt("--pass"),
    turnTransport: args.includes("--turn-tls") ? "tls" : args.includes("--turn-tcp") ? "tcp" : "udp" });
}
if (opt("--ca")) o.turnTlsOptions = { ca: fs.readFileSync(opt("--ca")), servername: opt("--sni", "turn.test") };
if (opt("--stun")) o.stunServer = hp(opt("--stun"));

let ice;
let finished = false;
async function finish(code) {
  if (finished) return;
  finished = true;
  // Bounded: a close that hangs must not turn success into a timeout.
  if (ice) await Promise.race([ice.close().catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
  process.exit(code);
}
setTimeout(() => { log("timeout"); finish(2); }, 1000 * Number(opt("--timeout", 20))).unref();

// werift's candidate parser splits on single spaces.
const parseCandidate = (s) => Candidate.fromSdp(s.trim().replace(/\s+/g, " "));

(async () => {
  ice = new Connection(controlling, o);
  ice.stateChanged.subscribe((s) => log("state", s));
  await ice.gatherCandidates();
  log("gathering done");
  let block = `a=ice-ufrag:${ice.localUsername}\na=ice-pwd:${ice.localPassword}\n`;
  for (const c of ice.localCandidates) block += `a=candidate:${c.toSdp()}\n`;
  process.stdout.write(block + "a=end-of-candidates\n");

  const rl = readline.createInterface({ input: process.stdin });
  const lines = rl[Symbol.asyncIterator]();
  let ufrag, pwd, ended = false;
  const cands = [];
  for (;;) {
    const { value: line, done } = await lines.next();
    if (done) break;
    if (line.startsWith("a=ice-ufrag:")) ufrag = line.slice(12).trim();
    else if (line.startsWith("a=ice-pwd:")) pwd = line.slice(10).trim();
    else if (line.startsWith("a=candidate:")) cands.push(parseCandidate(line.slice(12)));
    else if (line.startsWith("a=end-of-candidates")) { ended = true; break; }
  }
  if (!ended || !ufrag || !pwd) {
    log(ended ? "bad remote block" : "Conclusion ABORTED (peer went away)");
    return finish(ended ? 3 : 4);
  }
  let up = false, echoed = false, linger;
  const held = [];
  const echo = async (data) => {
    await ice.send(data);
    if (!echoed) log("echoed");
    echoed = true;
    clearTimeout(linger);
    linger = setTimeout(() => finish(0), 1000);
  };
  // After the block, the end of stdin means the relay saw the peer leave.
  (async () => {
    for (;;) { const { done } = await lines.next(); if (done) break; }
    if (!controlling && echoed) return finish(0);
    if (!finished) { log("Conclusion ABORTED (peer went away)"); finish(4); }
  })();
  ice.onData.subscribe((data) => {
    log("received:", data.toString());
    if (controlling) { log("Conclusion SUCCESS"); finish(0); }
    else if (!up) held.push(data);
    else echo(data).catch((e) => log("echo failed", e && e.message));
  });

  ice.setRemoteParams({ iceLite: false, usernameFragment: ufrag, password: pwd });
  for (const c of cands) await ice.addRemoteCandidate(c);
  await ice.addRemoteCandidate(undefined);
  log("remote candidates:", cands.length);
  await ice.connect();
  up = true;
  const n = ice.nominated;
  if (n) {
    log("selected", n.localCandidate.type, `${n.localCandidate.host}:${n.localCandidate.port}`, "->",
      n.remoteCandidate.type, `${n.remoteCandidate.host}:${n.remoteCandidate.port}`);
  }
  if (controlling) {
    const hello = Buffer.from(HELLO);
    const again = () => { if (!finished) ice.send(hello).catch(() => {}); };
    again();
    setInterval(again, 100);
  } else {
    for (const d of held.splice(0)) await echo(d);
  }
})().catch((e) => { log("Conclusion FAILED", e && e.message); finish(1); });
