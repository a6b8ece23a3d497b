// The least a kubelet written on berth's stack can weigh: a Node process, its heap tuned as the
// daemons', that holds only a CRI client and relists the runtime every second, as PLEG does.
// bench/kubelet.ts runs it beside the kubelet and prints its RSS as the floor under the kubelet's.
//
//   node dist/bench/cri-client-floor.js unix:///run/berth/berth.sock
import { newRemoteRuntimeService } from "../src/cri/remote-runtime.js";
import { dialCri } from "../src/cri/transport.js";
import { tuneDaemonHeap } from "../src/lib/daemon-heap.js";

tuneDaemonHeap();
const endpoint = process.argv[2];
if (!endpoint) throw new Error("usage: cri-client-floor.js <CRI endpoint>");
const runtime = newRemoteRuntimeService(dialCri(endpoint, { timeoutMs: 10_000 }));
await runtime.version({});
setInterval(() => {
  Promise.all([runtime.listPodSandbox({}), runtime.listContainers({})]).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}, 1000);
