// Port of the pod parts of pkg/apis/core/v1/defaults.go (and the declarative defaults generated beside
// it) as of Kubernetes 1.28: the values the API server fills into every pod it stores. The kubelet only
// ever sees pods defaulted this way (static pods are decoded through the same defaulting), and its code
// relies on them: a restartPolicy, a pull policy, a probe period. berth's sources call defaultPod before
// anything else looks at a pod.
import type { Container, Pod, Probe, Volume } from "kubernetes-types/core/v1.js";
import { defaultPodResources } from "../api/resources.js";

export const DefaultTerminationGracePeriodSeconds = 30;
export const DefaultSchedulerName = "default-scheduler";
export const TerminationMessagePathDefault = "/dev/termination-log";
/** The default file mode of configMap, secret, downwardAPI and projected volumes (0644). */
export const DefaultVolumeSourceMode = 0o644;

/** SetDefaults_Pod and everything below it; returns a defaulted copy. */
export function defaultPod(pod: Pod): Pod {
  const out = defaultPodResources(pod);
  const spec = out.spec;
  if (!spec) return out;
  // SetDefaults_PodSpec
  spec.dnsPolicy ||= "ClusterFirst";
  spec.restartPolicy ||= "Always";
  spec.securityContext ??= {};
  spec.terminationGracePeriodSeconds ??= DefaultTerminationGracePeriodSeconds;
  spec.schedulerName ||= DefaultSchedulerName;
  // SetDefaults_Pod
  spec.enableServiceLinks ??= true;
  const containers = [...(spec.containers ?? []), ...(spec.initContainers ?? [])];
  for (const c of [...containers, ...((spec.ephemeralContainers ?? []) as Container[])]) defaultContainer(c);
  if (spec.hostNetwork) {
    // With the host's network a container port is a host port.
    for (const c of containers) for (const p of c.ports ?? []) p.hostPort ||= p.containerPort;
  }
  for (const v of spec.volumes ?? []) defaultVolume(v);
  return out;
}

/** SetDefaults_Container with the defaults of what a container holds: ports, env, probes, hooks. */
function defaultContainer(c: Container): void {
  c.imagePullPolicy ||= imageTag(c.image ?? "") === "latest" ? "Always" : "IfNotPresent";
  c.terminationMessagePath ||= TerminationMessagePathDefault;
  c.terminationMessagePolicy ||= "File";
  for (const p of c.ports ?? []) p.protocol ||= "TCP";
  for (const e of c.env ?? []) {
    if (e.valueFrom?.fieldRef) e.valueFrom.fieldRef.apiVersion ||= "v1";
  }
  for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) if (probe) defaultProbe(probe);
  for (const handler of [c.lifecycle?.postStart, c.lifecycle?.preStop]) {
    if (handler?.httpGet) defaultHTTPGet(handler.httpGet);
  }
}

/** SetDefaults_Probe, SetDefaults_HTTPGetAction and GRPCAction's service. */
function defaultProbe(p: Probe): void {
  p.timeoutSeconds ||= 1;
  p.periodSeconds ||= 10;
  p.successThreshold ||= 1;
  p.failureThreshold ||= 3;
  if (p.httpGet) defaultHTTPGet(p.httpGet);
  if (p.grpc) p.grpc.service ??= "";
}

function defaultHTTPGet(h: NonNullable<Probe["httpGet"]>): void {
  h.path ||= "/";
  h.scheme ||= "HTTP";
}

/** The volume sources of a 1.28 VolumeSource: a volume names exactly one. */
export const VolumeSourceFields = [
  "awsElasticBlockStore",
  "azureDisk",
  "azureFile",
  "cephfs",
  "cinder",
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "fc",
  "flexVolume",
  "flocker",
  "gcePersistentDisk",
  "gitRepo",
  "glusterfs",
  "hostPath",
  "iscsi",
  "nfs",
  "persistentVolumeClaim",
  "photonPersistentDisk",
  "portworxVolume",
  "projected",
  "quobyte",
  "rbd",
  "scaleIO",
  "secret",
  "storageos",
  "vsphereVolume",
] as const satisfies readonly (keyof Volume)[];

/** SetDefaults_Volume: a volume that names no source is an emptyDir; file modes default to 0644. */
function defaultVolume(v: Volume): void {
  if (VolumeSourceFields.every((k) => v[k] === undefined || v[k] === null)) v.emptyDir = {};
  if (v.hostPath) v.hostPath.type ??= "";
  if (v.configMap) v.configMap.defaultMode ??= DefaultVolumeSourceMode;
  if (v.secret) v.secret.defaultMode ??= DefaultVolumeSourceMode;
  if (v.downwardAPI) {
    v.downwardAPI.defaultMode ??= DefaultVolumeSourceMode;
    for (const item of v.downwardAPI.items ?? []) if (item.fieldRef) item.fieldRef.apiVersion ||= "v1";
  }
  if (v.projected) {
    v.projected.defaultMode ??= DefaultVolumeSourceMode;
    for (const source of v.projected.sources ?? []) {
      for (const item of source.downwardAPI?.items ?? [])
        if (item.fieldRef) item.fieldRef.apiVersion ||= "v1";
      if (source.serviceAccountToken) source.serviceAccountToken.expirationSeconds ??= 3600;
    }
  }
}

/**
 * The tag parsers.ParseImageName finds: the one written, "latest" when the image names neither a tag
 * nor a digest, "" when it names only a digest.
 */
export function imageTag(image: string): string {
  const at = image.indexOf("@");
  const name = at >= 0 ? image.slice(0, at) : image;
  const colon = name.lastIndexOf(":");
  if (colon > name.lastIndexOf("/")) return name.slice(colon + 1);
  return at >= 0 ? "" : "latest";
}
