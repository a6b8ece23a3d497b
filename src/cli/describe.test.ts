// The describe layout checked against kubectl describe pod's: a pod with every section filled, the
// alignment that Go's tabwriter gives each run of lines, and the Events table after its flush.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

// metav1.Time is printed in local time; the expected text is in UTC.
process.env.TZ = "UTC";

import type { Event, Pod } from "kubernetes-types/core/v1.js";
import { describePod, rfc1123z } from "./describe.js";

const now = Date.parse("2024-05-06T08:00:00Z");

const pod: Pod = {
  metadata: {
    name: "web",
    namespace: "default",
    uid: "u1",
    creationTimestamp: "2024-05-06T07:00:00Z",
    labels: { tier: "front", app: "web" },
    annotations: {
      "kubectl.kubernetes.io/last-applied-configuration": "{}\n",
      note: "short",
      long: "x".repeat(150),
    },
  },
  spec: {
    nodeName: "node-1",
    serviceAccountName: "default",
    priority: 0,
    initContainers: [{ name: "init", image: "busybox", command: ["sh", "-c", "true"] }],
    containers: [
      {
        name: "app",
        image: "busybox:1.36",
        command: ["sleep"],
        args: ["3600"],
        ports: [
          { containerPort: 80, protocol: "TCP", name: "http" },
          { containerPort: 53, protocol: "UDP", hostPort: 5353 },
        ],
        resources: { limits: { memory: "64Mi", cpu: "500m" }, requests: { cpu: "250m" } },
        livenessProbe: { httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 5 },
        envFrom: [{ configMapRef: { name: "cfg" } }],
        env: [
          { name: "GREETING", value: "hello\nworld" },
          { name: "POD_IP", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "status.podIP" } } },
          { name: "MEM", valueFrom: { resourceFieldRef: { resource: "limits.memory", divisor: "1Mi" } } },
          { name: "CPU_REQ", valueFrom: { resourceFieldRef: { resource: "requests.cpu", divisor: "1m" } } },
          { name: "PASSWORD", valueFrom: { secretKeyRef: { name: "db", key: "password" } } },
        ],
        volumeMounts: [
          { name: "data", mountPath: "/var/data" },
          { name: "cfg", mountPath: "/etc/cfg", readOnly: true, subPath: "app.conf" },
        ],
      },
    ],
    volumes: [
      { name: "data", emptyDir: {} },
      { name: "cfg", configMap: { name: "cfg" } },
      { name: "host", hostPath: { path: "/srv", type: "Directory" } },
    ],
    tolerations: [
      {
        key: "node.kubernetes.io/not-ready",
        operator: "Exists",
        effect: "NoExecute",
        tolerationSeconds: 300,
      },
    ],
  },
  status: {
    phase: "Running",
    hostIP: "192.0.2.10",
    podIP: "10.89.0.7",
    podIPs: [{ ip: "10.89.0.7" }],
    startTime: "2024-05-06T07:00:01Z",
    qosClass: "Burstable",
    conditions: [
      { type: "Initialized", status: "True" },
      { type: "Ready", status: "True" },
      { type: "ContainersReady", status: "True" },
      { type: "PodScheduled", status: "True" },
    ],
    initContainerStatuses: [
      {
        name: "init",
        image: "busybox",
        imageID: "busybox@sha256:aa",
        containerID: "berth://i1",
        ready: true,
        restartCount: 0,
        state: {
          terminated: {
            exitCode: 0,
            reason: "Completed",
            startedAt: "2024-05-06T07:00:02Z",
            finishedAt: "2024-05-06T07:00:02Z",
          },
        },
      },
    ],
    containerStatuses: [
      {
        name: "app",
        image: "busybox:1.36",
        imageID: "busybox@sha256:bb",
        containerID: "berth://c2",
        ready: true,
        restartCount: 2,
        started: true,
        state: { running: { startedAt: "2024-05-06T07:30:00Z" } },
        lastState: {
          terminated: {
            exitCode: 137,
            signal: 9,
            reason: "Error",
            message: "killed",
            startedAt: "2024-05-06T07:10:00Z",
            finishedAt: "2024-05-06T07:29:59Z",
          },
        },
      },
    ],
  },
};

const events: Event[] = [
  {
    metadata: { name: "web.1" },
    involvedObject: { kind: "Pod", name: "web" },
    type: "Normal",
    reason: "Pulled",
    message: 'Container image "busybox" already present on machine ',
    source: { component: "kubelet", host: "node-1" },
    firstTimestamp: "2024-05-06T07:00:01Z",
    lastTimestamp: "2024-05-06T07:30:00Z",
    count: 3,
  },
  {
    metadata: { name: "web.2" },
    involvedObject: { kind: "Pod", name: "web" },
    type: "Warning",
    reason: "BackOff",
    message: "Back-off restarting failed container app",
    source: { component: "kubelet" },
    firstTimestamp: "2024-05-06T07:20:00Z",
    lastTimestamp: "2024-05-06T07:20:00Z",
    count: 1,
  },
];

describe("describePod", () => {
  it("lays out every section as kubectl describe pod does", () => {
    assert.equal(
      describePod(pod, events, now),
      `Name:             web
Namespace:        default
Priority:         0
Service Account:  default
Node:             node-1/192.0.2.10
Start Time:       Mon, 06 May 2024 07:00:01 +0000
Labels:           app=web
                  tier=front
Annotations:      long:
                    ${"x".repeat(138)}...
                  note: short
Status:           Running
IP:               10.89.0.7
IPs:
  IP:  10.89.0.7
Init Containers:
  init:
    Container ID:  berth://i1
    Image:         busybox
    Image ID:      busybox@sha256:aa
    Port:          <none>
    Host Port:     <none>
    Command:
      sh
      -c
      true
    State:          Terminated
      Reason:       Completed
      Exit Code:    0
      Started:      Mon, 06 May 2024 07:00:02 +0000
      Finished:     Mon, 06 May 2024 07:00:02 +0000
    Ready:          True
    Restart Count:  0
    Environment:    <none>
    Mounts:         <none>
Containers:
  app:
    Container ID:  berth://c2
    Image:         busybox:1.36
    Image ID:      busybox@sha256:bb
    Ports:         80/TCP (http), 53/UDP
    Host Ports:    0/TCP (http), 5353/UDP
    Command:
      sleep
    Args:
      3600
    State:          Running
      Started:      Mon, 06 May 2024 07:30:00 +0000
    Last State:     Terminated
      Reason:       Error
      Message:      killed
      Exit Code:    137
      Signal:       9
      Started:      Mon, 06 May 2024 07:10:00 +0000
      Finished:     Mon, 06 May 2024 07:29:59 +0000
    Ready:          True
    Restart Count:  2
    Limits:
      cpu:     500m
      memory:  64Mi
    Requests:
      cpu:     250m
    Liveness:  http-get http://:8080/healthz delay=0s timeout=1s period=5s #success=1 #failure=3
    Environment Variables from:
      cfg  ConfigMap  Optional: false
    Environment:
      GREETING:  hello
                 world
      POD_IP:    10.89.0.7 (v1:status.podIP)
      MEM:       64 (limits.memory)
      CPU_REQ:   250 (requests.cpu)
      PASSWORD:  <set to the key 'password' in secret 'db'>  Optional: false
    Mounts:
      /etc/cfg from cfg (ro,path="app.conf")
      /var/data from data (rw)
Conditions:
  Type              Status
  Initialized       True 
  Ready             True 
  ContainersReady   True 
  PodScheduled      True 
Volumes:
  data:
    Type:       EmptyDir (a temporary directory that shares a pod's lifetime)
    Medium:     
    SizeLimit:  <unset>
  cfg:
    Type:      ConfigMap (a volume populated by a ConfigMap)
    Name:      cfg
    Optional:  false
  host:
    Type:          HostPath (bare host directory volume)
    Path:          /srv
    HostPathType:  Directory
QoS Class:         Burstable
Node-Selectors:    <none>
Tolerations:       node.kubernetes.io/not-ready:NoExecute op=Exists for 300s
Events:
  Type     Reason   Age                From     Message
  ----     ------   ----               ----     -------
  Warning  BackOff  40m                kubelet  Back-off restarting failed container app
  Normal   Pulled   30m (x3 over 59m)  kubelet  Container image "busybox" already present on machine
`,
    );
  });

  it("keeps 'Events: <none>' in the block above it, and has no Events section when they are unknown", () => {
    const tail = (text: string) => text.split("\n").slice(-4).join("\n");
    assert.equal(
      tail(describePod(pod, [], now)),
      [
        "Node-Selectors:    <none>",
        "Tolerations:       node.kubernetes.io/not-ready:NoExecute op=Exists for 300s",
        "Events:            <none>",
        "",
      ].join("\n"),
    );
    assert.doesNotMatch(describePod(pod, undefined, now), /^Events:/m);
  });

  it("describes a pod being deleted, without IPs or volumes, computing its QoS class", () => {
    const bare: Pod = {
      metadata: {
        name: "gone",
        namespace: "prod",
        deletionTimestamp: "2024-05-06T07:59:30Z",
        deletionGracePeriodSeconds: 30,
      },
      spec: {
        containers: [{ name: "c", image: "busybox", resources: { limits: { cpu: "1", memory: "1Gi" } } }],
      },
      status: { phase: "Running" },
    };
    assert.equal(
      describePod(bare, undefined, now),
      [
        "Name:                      gone",
        "Namespace:                 prod",
        "Node:                      <none>",
        "Labels:                    <none>",
        "Annotations:               <none>",
        "Status:                    Terminating (lasts 30s)",
        "Termination Grace Period:  30s",
        "IP:                        ",
        "IPs:                       <none>",
        "Containers:",
        "  c:",
        "    Image:      busybox",
        "    Port:       <none>",
        "    Host Port:  <none>",
        "    Limits:",
        // Limits and the lines after it down to Tolerations are one run of lines: one column width.
        "      cpu:        1",
        "      memory:     1Gi",
        "    Environment:  <none>",
        "    Mounts:       <none>",
        "Volumes:          <none>",
        // Limits without requests (no API server defaulted them): Burstable.
        "QoS Class:        Burstable",
        "Node-Selectors:   <none>",
        "Tolerations:      <none>",
        "",
      ].join("\n"),
    );
  });

  it("escapes terminal control characters from the object", () => {
    const sneaky: Pod = { ...pod, metadata: { ...pod.metadata, labels: { app: "a\x1b[2Jb\rc" } } };
    assert.match(describePod(sneaky, undefined, now), /^Labels: +app=a\^\[\[2Jb\\rc$/m);
  });
});

it("formats times as Go's RFC1123Z in local time", () => {
  assert.equal(rfc1123z("2024-02-29T23:05:09Z"), "Thu, 29 Feb 2024 23:05:09 +0000");
});
