// The CNI_ARGS a pod sandbox's plugins get, after containerd's toCNILabels
// (pkg/cri/server/sandbox_run.go): the pod's identity, and IgnoreUnknown so that plugins which
// know none of these keys accept them.

export interface PodIdentity {
  namespace: string;
  name: string;
  uid: string;
}

export function toCniLabels(sandboxId: string, pod: PodIdentity): Record<string, string> {
  return {
    K8S_POD_NAMESPACE: pod.namespace,
    K8S_POD_NAME: pod.name,
    K8S_POD_INFRA_CONTAINER_ID: sandboxId,
    K8S_POD_UID: pod.uid,
    IgnoreUnknown: "1",
  };
}
