// berth delete pod: deletes pods through berth's local API as kubectl delete does: each delete is
// graceful (the pod's grace period, or --grace-period), `pod "x" deleted` is printed once the API has
// marked it, and then, unless --wait=false, the command waits until the kubelet has stopped it and the
// API no longer has it (kubectl waits for the deletion the same way, with no deadline of its own).
import { setTimeout as sleep } from "node:timers/promises";
import { type Command, InvalidArgumentError, Option } from "commander";
import type { Pod } from "kubernetes-types/core/v1.js";
import { BerthError, invalidArgument, isNotFound, messageOf } from "../lib/errdefs.js";
import { run } from "./context.js";
import {
  KubeletClient,
  type KubeletSocketOptions,
  parsePodArgs,
  podsPath,
  withKubeletSocket,
} from "./kubelet-client.js";

interface DeleteOptions extends KubeletSocketOptions {
  namespace: string;
  gracePeriod: number;
  wait: boolean;
}

/** How often the wait asks whether a pod is gone. */
const pollIntervalMs = 250;

function parseGracePeriod(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError("must be a whole number of seconds");
  return n;
}

function parseBool(value: string): boolean {
  if (value === "true") return true;
  if (value === "false") return false;
  throw new InvalidArgumentError('must be "true" or "false"');
}

export function register(program: Command): void {
  withKubeletSocket(
    program
      .command("delete")
      .description(
        "Delete pods through the kubelet's local API and wait until they are gone (kubectl delete)",
      )
      .argument("<resource>", "pods (pod, po), or pod/NAME")
      .argument("[names...]", "pod names")
      .option("-n, --namespace <namespace>", "namespace of the pods", "default")
      .addOption(
        new Option(
          "--grace-period <seconds>",
          "seconds the containers get to stop; negative: the pod's terminationGracePeriodSeconds",
        )
          .argParser(parseGracePeriod)
          .default(-1),
      )
      .addOption(
        new Option("--wait [bool]", "wait until the pods are gone (--wait=false returns at once)")
          .argParser(parseBool)
          .preset("true")
          .default(true),
      ),
  ).action(
    run<DeleteOptions>(async (cli, opts, args) => {
      const names = parsePodArgs(args);
      if (names.length === 0) throw invalidArgument("resource(s) were provided, but no name was specified");
      const client = new KubeletClient(opts.kubeletSocket, cli.timeoutMs);
      const query = opts.gracePeriod >= 0 ? `?gracePeriodSeconds=${opts.gracePeriod}` : "";
      const deleted: Pod[] = [];
      const errors: string[] = [];
      for (const name of names) {
        try {
          const reply = await client.request("DELETE", `${podsPath(opts.namespace, name)}${query}`);
          deleted.push(reply.body as Pod);
          cli.print(`pod "${name}" deleted`);
        } catch (err) {
          if (!isNotFound(err)) throw err;
          errors.push(messageOf(err));
        }
      }
      if (opts.wait) for (const pod of deleted) await waitUntilGone(client, opts.namespace, pod);
      if (errors.length > 0) throw new BerthError("NotFound", errors.join("\n"));
    }),
  );
}

/** Until the API has no pod of this name with this UID (a new pod of the same name is another pod). */
async function waitUntilGone(client: KubeletClient, namespace: string, pod: Pod): Promise<void> {
  const path = podsPath(namespace, pod.metadata?.name);
  for (;;) {
    const current = await client.get<Pod>(path).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (current?.metadata?.uid !== pod.metadata?.uid) return;
    await sleep(pollIntervalMs);
  }
}
