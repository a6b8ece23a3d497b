// berth explain: what berth's kubelet would send to the runtime for a pod manifest, and the cgroup
// values the pod gets, worked out by the kubelet's own code with no runtime. The manifest is read as
// a static pod; the node is this host unless --node gives its facts.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { invalidArgument, wrap } from "../lib/errdefs.js";
import { formatDocument } from "./output.js";

interface ExplainFlags {
  filename: string;
  config?: string;
  node?: string;
  nodeName?: string;
  rootDir?: string;
  imageUser?: string;
  output?: string;
}

export function register(program: Command): void {
  program
    .command("explain")
    .description(
      "Show what berth's kubelet would send to the runtime for a pod (sandbox and container configs) and the cgroup values it gets, without a runtime",
    )
    .requiredOption("-f, --filename <file>", "the pod manifest (YAML or JSON), read as a static pod")
    .option("--config <path>", "KubeletConfiguration file (default: the kubelet's defaults)")
    .option(
      "--node <path>",
      "node facts overriding this host's: cgroupVersion, memoryCapacityBytes, swapCapacityBytes, hugePageSizes, pageSizeBytes, swapControllerAvailable, hugetlbControllerAvailable, cpuCores, nodeName",
    )
    .option("--node-name <name>", "the node's name (default: the hostname)")
    .option("--root-dir <dir>", "the kubelet's --root-dir (pod directories in mounts)")
    .option("--image-user <user>", "the image's user, a uid or a name (default: unknown, so root)")
    .option("-o, --output <format>", "json or yaml (default: a readable walk through the kubelet's steps)")
    .action(async (flags: ExplainFlags) => {
      process.stdout.write(await explain(flags));
    });
}

async function explain(flags: ExplainFlags): Promise<string> {
  const format = flags.output;
  if (format !== undefined && format !== "json" && format !== "yaml")
    throw invalidArgument(`unsupported output format "${format}" (want json or yaml)`);
  const [
    { loadKubeletConfiguration },
    { detectNodeCapacity, detectNodeFacts },
    { getCgroupSubsystems },
    { readNodeFiles },
    { explainPod, explanationJson },
    { applyNodeFactsFile, capacityForFacts },
    { formatWalk },
  ] = await Promise.all([
    import("../kubelet/config/kubelet-configuration.js"),
    import("../kubelet/cm/node-facts.js"),
    import("../kubelet/cm/cgroup-manager.js"),
    import("../kubelet/kuberuntime/host-facts.js"),
    import("../kubelet/explain/explain.js"),
    import("../kubelet/explain/node-facts-file.js"),
    import("../kubelet/explain/walk.js"),
  ]);

  const loaded = await loadKubeletConfiguration(
    flags.config,
    flags.rootDir ? { rootDir: flags.rootDir } : {},
  );
  for (const w of loaded.warnings) process.stderr.write(`berth explain: ${loaded.path}: ${w}\n`);
  const config = loaded.config;

  const [node, capacity, subsystems] = await Promise.all([
    detectNodeFacts(),
    detectNodeCapacity(config.rootDir),
    getCgroupSubsystems().catch(() => undefined),
  ]);
  let facts = { node, hugetlb: subsystems?.mountPoints.has("hugetlb") ?? false, cpuCores: capacity.cpuCores };
  if (flags.node) facts = applyNodeFactsFile(await readText(flags.node, "node facts"), flags.node, facts);
  if (flags.nodeName) facts.node.nodeName = flags.nodeName;

  // The file source names a static pod's file by its path: resolved, it is what the kubelet sees
  // for a manifest in an absolute staticPodPath, and so gives the same UID.
  const file = resolve(flags.filename);
  const imageUser = flags.imageUser === undefined ? undefined : parseImageUser(flags.imageUser);
  const explanation = explainPod({
    manifest: await readText(file, "pod manifest"),
    file,
    config,
    node: facts.node,
    machine: capacityForFacts(capacity, facts),
    hugetlb: facts.hugetlb,
    files: await readNodeFiles(config),
    imageUser: imageUser ?? { uid: 0n, username: "" },
    now: new Date(),
  });
  if (format !== undefined) return formatDocument(explanationJson(explanation), format);
  return formatWalk(explanation, {
    file: flags.filename,
    nodeSource: flags.node ? `${flags.node} over this host's` : "detected on this host",
    configSource: loaded.path ?? "kubelet defaults",
    ...(imageUser ? { imageUser } : {}),
  });
}

async function readText(path: string, what: string): Promise<string> {
  return readFile(path, "utf8").catch((err: unknown) => {
    throw wrap(err, `failed to read ${what} ${JSON.stringify(path)}`);
  });
}

/** A uid is numeric; anything else is a user name, as ImageStatus reports them. */
function parseImageUser(user: string): { uid?: bigint; username: string } {
  if (/^[0-9]+$/.test(user)) return { uid: BigInt(user), username: "" };
  if (user === "") throw invalidArgument("--image-user: want a uid or a user name");
  return { username: user };
}
