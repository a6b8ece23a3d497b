// CRI states as crictl names them on screen and in --state filters.
import { ContainerState, PodSandboxState } from "../cri/gen/runtime/v1/api_pb.js";
import { invalidArgument } from "../lib/errdefs.js";

const containerStates: [ContainerState, string][] = [
  [ContainerState.CONTAINER_CREATED, "Created"],
  [ContainerState.CONTAINER_RUNNING, "Running"],
  [ContainerState.CONTAINER_EXITED, "Exited"],
  [ContainerState.CONTAINER_UNKNOWN, "Unknown"],
];
const podStates: [PodSandboxState, string][] = [
  [PodSandboxState.SANDBOX_READY, "Ready"],
  [PodSandboxState.SANDBOX_NOTREADY, "NotReady"],
];

export const containerStateName = (s: ContainerState) =>
  containerStates.find(([v]) => v === s)?.[1] ?? "Unknown";
export const podStateName = (s: PodSandboxState) => podStates.find(([v]) => v === s)?.[1] ?? "Unknown";

export function parseContainerState(text: string): ContainerState {
  const hit = containerStates.find(([, name]) => name.toLowerCase() === text.toLowerCase());
  if (!hit) throw invalidArgument(`--state "${text}": want one of created, running, exited, unknown`);
  return hit[0];
}

export function parsePodState(text: string): PodSandboxState {
  const hit = podStates.find(([, name]) => name.toLowerCase() === text.toLowerCase());
  if (!hit) throw invalidArgument(`--state "${text}": want ready or notready`);
  return hit[0];
}

/** --label key=value flags as a CRI label selector. */
export function parseLabels(labels: string[] | undefined): Record<string, string> {
  const selector: Record<string, string> = {};
  for (const l of labels ?? []) {
    const eq = l.indexOf("=");
    if (eq <= 0) throw invalidArgument(`--label "${l}": want key=value`);
    selector[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return selector;
}

export const collect = (value: string, previous: string[] = []) => [...previous, value];
