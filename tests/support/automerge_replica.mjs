// The JavaScript automerge-repo client (npm @automerge/automerge-repo@2.5.6
// with -network-websocket@2.5.6) as admin tooling replicating a hub's
// sharing document, driven by a test over stdout/stdin:
//   node automerge_replica.mjs SYNC_URL DOC_URL PEER_ID WAIT_MS
// Prints one JSON line per event: {event:"ready", devices, org_names} once
// the document arrived, {event:"change", ...} on every change after,
// {event:"nothing"} if it did not arrive within WAIT_MS. A line "write" on
// stdin makes a local change (renaming every organization), which a
// read-only peer's hub must ignore.
import readline from "node:readline";
import { Repo } from "@automerge/automerge-repo";
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";

const [url, docUrl, peerId, waitMs] = process.argv.slice(2);
const say = (event) => process.stdout.write(JSON.stringify(event) + "\n");
const view = (doc) => ({
  devices: Object.values(doc.devices ?? {})
    .filter((d) => !d.deleted)
    .map((d) => d.name)
    .sort(),
  org_names: Object.values(doc.orgs ?? {}).map((o) => o.name).sort(),
});

// The adapter throws a refused upgrade (401/403) out of its event handler.
process.on("uncaughtException", (e) => {
  say({ event: "nothing", reason: String(e) });
  process.exit(0);
});
const repo = new Repo({ network: [new WebSocketClientAdapter(url)], peerId });
let handle;
try {
  handle = await Promise.race([
    repo.find(docUrl),
    new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), Number(waitMs))),
  ]);
} catch (e) {
  say({ event: "nothing", reason: String(e) });
  process.exit(0);
}
say({ event: "ready", ...view(handle.doc()) });
handle.on("change", ({ doc }) => say({ event: "change", ...view(doc) }));
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "write") {
    handle.change((doc) => {
      for (const org of Object.values(doc.orgs)) org.name = "Taken over";
    });
    say({ event: "wrote", ...view(handle.doc()) });
  }
});
