// wrtc_gather.js - what the WebRTC "Trickle ICE" page prints, from
// libwebrtc (@roamhq/wrtc): gather through one STUN or TURN server and
// print each candidate and each icecandidateerror as it comes, with the
// milliseconds since the start, then "Done" when gathering ends.
//
// node wrtc_gather.js URL [USER PASS] [relay] [timeout-s]
// Lines (stdout):
//   54ms candidate:213309110 1 udp 41819903 127.0.0.1 49782 typ relay ...
//   54ms error url=turn:127.0.0.1:3478?transport=udp code=401 text=Unauthorized
//   106ms Done
// Exit status: 0 gathering done; 2 timeout; 3 usage.
"use strict";
const { RTCPeerConnection } = require("@roamhq/wrtc");

const [url, username, credential, policy, limit] = process.argv.slice(2);
if (!url) {
  console.error("usage: node wrtc_gather.js URL [USER PASS] [relay] [timeout-s]");
  process.exit(3);
}
const t0 = Date.now();
const server = { urls: url };
if (username) Object.assign(server, { username, credential });
// A relay-only policy keeps libwebrtc off the machine's other interfaces.
const pc = new RTCPeerConnection({ iceServers: [server],
  iceTransportPolicy: policy === "relay" ? "relay" : "all" });
const say = (s) => console.log(`${Date.now() - t0}ms ${s}`);
pc.onicecandidate = (e) => {
  if (e.candidate) return say(e.candidate.candidate);
  say("Done");
  pc.close();
  setTimeout(() => process.exit(0), 100);
};
pc.onicecandidateerror = (e) =>
  say(`error url=${e.url} code=${e.errorCode} text=${e.errorText} addr=${e.address}:${e.port}`);
pc.createDataChannel("x");
pc.createOffer().then((o) => pc.setLocalDescription(o));
setTimeout(() => { say("timeout"); process.exit(2); }, 1000 * Number(limit || 40));
