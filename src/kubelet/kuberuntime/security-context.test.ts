import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, equals, toJsonString } from "@bufbuild/protobuf";
import type { Pod, PodSecurityContext, SecurityContext } from "kubernetes-types/core/v1.js";
import {
  LinuxContainerSecurityContextSchema,
  NamespaceMode,
  type SecurityProfile,
  SecurityProfile_ProfileType,
  SecurityProfileSchema,
} from "../../cri/gen/runtime/v1/api_pb.js";
import { BerthError } from "../../lib/errdefs.js";
import {
  defaultSeccompProfileRoot,
  determineEffectiveSecurityContext,
  getSeccompProfile,
  verifyRunAsNonRoot,
} from "./security-context.js";

const unconfined = create(SecurityProfileSchema, { profileType: SecurityProfile_ProfileType.Unconfined });
const runtimeDefault = create(SecurityProfileSchema, {
  profileType: SecurityProfile_ProfileType.RuntimeDefault,
});
const localhost = (name: string) =>
  create(SecurityProfileSchema, {
    profileType: SecurityProfile_ProfileType.Localhost,
    localhostRef: `${defaultSeccompProfileRoot}/${name}`,
  });

describe("getSeccompProfile", () => {
  // TestGetSeccompProfile / TestGetSeccompProfileDefaultSeccomp (1.28); the last column is the
  // expectation with seccompDefault off and on where they differ.
  type Case = [
    string,
    PodSecurityContext | undefined,
    SecurityContext | undefined,
    SecurityProfile | string,
    SecurityProfile?,
  ];
  const cases: Case[] = [
    ["no seccomp should return unconfined", undefined, undefined, unconfined, runtimeDefault],
    [
      "pod seccomp profile set to unconfined returns unconfined",
      { seccompProfile: { type: "Unconfined" } },
      undefined,
      unconfined,
    ],
    [
      "container seccomp profile set to unconfined returns unconfined",
      undefined,
      { seccompProfile: { type: "Unconfined" } },
      unconfined,
    ],
    [
      "pod seccomp profile set to SeccompProfileTypeRuntimeDefault returns runtime/default",
      { seccompProfile: { type: "RuntimeDefault" } },
      undefined,
      runtimeDefault,
    ],
    [
      "container seccomp profile set to SeccompProfileTypeRuntimeDefault returns runtime/default",
      undefined,
      { seccompProfile: { type: "RuntimeDefault" } },
      runtimeDefault,
    ],
    [
      "pod seccomp profile set to SeccompProfileTypeLocalhost returns 'localhost/' + LocalhostProfile",
      { seccompProfile: { type: "Localhost", localhostProfile: "filename" } },
      undefined,
      localhost("filename"),
    ],
    [
      "pod seccomp profile set to SeccompProfileTypeLocalhost with empty LocalhostProfile returns error",
      { seccompProfile: { type: "Localhost" } },
      undefined,
      "localhostProfile must be set if seccompProfile type is Localhost",
    ],
    [
      "container seccomp profile set to SeccompProfileTypeLocalhost with empty LocalhostProfile returns error",
      undefined,
      { seccompProfile: { type: "Localhost" } },
      "localhostProfile must be set if seccompProfile type is Localhost",
    ],
    [
      "container seccomp profile set to SeccompProfileTypeLocalhost returns 'localhost/' + LocalhostProfile",
      undefined,
      { seccompProfile: { type: "Localhost", localhostProfile: "filename2" } },
      localhost("filename2"),
    ],
    [
      "prioritise container field over pod field (runtime default)",
      { seccompProfile: { type: "Unconfined" } },
      { seccompProfile: { type: "RuntimeDefault" } },
      runtimeDefault,
    ],
    [
      "prioritise container field over pod field (localhost)",
      { seccompProfile: { type: "Localhost", localhostProfile: "field-pod-profile.json" } },
      { seccompProfile: { type: "Localhost", localhostProfile: "field-cont-profile.json" } },
      localhost("field-cont-profile.json"),
    ],
  ];
  for (const seccompDefault of [false, true]) {
    for (const [description, podSc, containerSc, expectedOff, expectedOn] of cases) {
      const expected = seccompDefault ? (expectedOn ?? expectedOff) : expectedOff;
      it(`${description} (seccompDefault ${seccompDefault})`, () => {
        const get = () =>
          getSeccompProfile("c1", podSc, containerSc, seccompDefault, defaultSeccompProfileRoot);
        if (typeof expected === "string") {
          assert.throws(get, (err: unknown) => err instanceof BerthError && err.message.includes(expected));
        } else {
          assert.ok(equals(SecurityProfileSchema, get(), expected));
        }
      });
    }
  }
});

describe("verifyRunAsNonRoot", () => {
  // TestVerifyRunAsNonRoot (security_context_others_test.go, 1.28).
  const cases: [string, SecurityContext | undefined, bigint | undefined, string, boolean][] = [
    ["Pass if SecurityContext is not set", undefined, 0n, "", false],
    ["Pass if RunAsNonRoot is not set", { runAsUser: 0 }, 0n, "", false],
    ["Pass if RunAsNonRoot is false (image user is root)", { runAsNonRoot: false }, 0n, "", false],
    [
      "Pass if RunAsNonRoot is false (RunAsUser is root)",
      { runAsNonRoot: false, runAsUser: 0 },
      0n,
      "",
      false,
    ],
    [
      "Fail if container's RunAsUser is root and RunAsNonRoot is true",
      { runAsNonRoot: true, runAsUser: 0 },
      0n,
      "",
      true,
    ],
    ["Fail if image's user is root and RunAsNonRoot is true", { runAsNonRoot: true }, 0n, "", true],
    [
      "Fail if image's username is set and RunAsNonRoot is true",
      { runAsNonRoot: true },
      undefined,
      "test",
      true,
    ],
    ["Pass if image's user is non-root and RunAsNonRoot is true", { runAsNonRoot: true }, 1000n, "", false],
    [
      "Pass if container's user and image's user aren't set and RunAsNonRoot is true",
      { runAsNonRoot: true },
      undefined,
      "",
      false,
    ],
  ];
  for (const [desc, sc, uid, username, fail] of cases) {
    it(desc, () => {
      const pod: Pod = {
        metadata: { uid: "12345678", name: "bar", namespace: "new" },
        spec: { containers: [{ name: "foo", image: "busybox", securityContext: sc }] },
      };
      const verify = () => verifyRunAsNonRoot(pod, pod.spec?.containers[0] as never, uid, username);
      if (fail)
        assert.throws(
          verify,
          (err: unknown) => err instanceof BerthError && err.message.includes('"bar_new(12345678)"'),
        );
      else assert.doesNotThrow(verify);
    });
  }

  it("takes runAsNonRoot and runAsUser from the pod when the container sets none", () => {
    const pod: Pod = {
      spec: { securityContext: { runAsNonRoot: true, runAsUser: 0 }, containers: [{ name: "c" }] },
    };
    assert.throws(
      () => verifyRunAsNonRoot(pod, { name: "c" }, 1000n, ""),
      /runAsUser breaks non-root policy/,
    );
  });
});

describe("determineEffectiveSecurityContext", () => {
  const settings = { seccompDefault: false };
  const maskedPaths = [
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
  ];
  const readonlyPaths = [
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
  ];

  function assertSecurityContext(
    got: unknown,
    expected: Parameters<typeof create<typeof LinuxContainerSecurityContextSchema>>[1],
  ) {
    const want = create(LinuxContainerSecurityContextSchema, expected);
    const gotMessage = got as typeof want;
    assert.ok(
      equals(LinuxContainerSecurityContextSchema, gotMessage, want),
      `got ${toJsonString(LinuxContainerSecurityContextSchema, gotMessage)}\nwant ${toJsonString(LinuxContainerSecurityContextSchema, want)}`,
    );
  }

  it("gives a plain container the image's user, the pod's namespaces and Docker's /proc defaults", () => {
    const pod: Pod = { spec: { containers: [{ name: "c" }] } };
    assertSecurityContext(determineEffectiveSecurityContext(pod, { name: "c" }, 0n, "", settings), {
      runAsUser: { value: 0n },
      namespaceOptions: { network: NamespaceMode.POD, ipc: NamespaceMode.POD, pid: NamespaceMode.CONTAINER },
      seccomp: { profileType: SecurityProfile_ProfileType.Unconfined },
      maskedPaths,
      readonlyPaths,
    });
  });

  it("merges the pod's settings under the container's and adds groups, no_new_privs and AppArmor", () => {
    const pod: Pod = {
      metadata: {
        annotations: { "container.apparmor.security.beta.kubernetes.io/c": "localhost/k8s-nginx" },
      },
      spec: {
        hostNetwork: true,
        hostIPC: true,
        shareProcessNamespace: true,
        securityContext: {
          runAsUser: 1000,
          runAsGroup: 3000,
          fsGroup: 2000,
          supplementalGroups: [4000, 5000],
          seLinuxOptions: { level: "s0:c1,c2" },
          seccompProfile: { type: "RuntimeDefault" },
        },
        containers: [],
      },
    };
    const container = {
      name: "c",
      securityContext: {
        runAsUser: 1001,
        privileged: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { add: ["NET_ADMIN"], drop: ["ALL"] },
      },
    };
    assertSecurityContext(determineEffectiveSecurityContext(pod, container, 0n, "nobody", settings), {
      capabilities: { addCapabilities: ["NET_ADMIN"], dropCapabilities: ["ALL"] },
      privileged: true,
      namespaceOptions: { network: NamespaceMode.NODE, ipc: NamespaceMode.NODE, pid: NamespaceMode.POD },
      selinuxOptions: { level: "s0:c1,c2" },
      runAsUser: { value: 1001n },
      runAsGroup: { value: 3000n },
      readonlyRootfs: true,
      supplementalGroups: [2000n, 4000n, 5000n],
      noNewPrivs: true,
      maskedPaths,
      readonlyPaths,
      seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault },
      apparmorProfile: "localhost/k8s-nginx",
    });
  });

  it("sends the image's user name when neither pod nor image give a uid, and unmasks /proc on request", () => {
    const pod: Pod = { spec: { hostPID: true, containers: [] } };
    const container = { name: "c", securityContext: { procMount: "Unmasked" } };
    assertSecurityContext(
      determineEffectiveSecurityContext(pod, container, undefined, "www-data", { seccompDefault: true }),
      {
        runAsUsername: "www-data",
        namespaceOptions: { network: NamespaceMode.POD, ipc: NamespaceMode.POD, pid: NamespaceMode.NODE },
        seccomp: { profileType: SecurityProfile_ProfileType.RuntimeDefault },
      },
    );
  });

  it("names the container when a Localhost profile has no name", () => {
    const pod: Pod = { spec: { containers: [] } };
    const container = { name: "web", securityContext: { seccompProfile: { type: "Localhost" } } };
    assert.throws(
      () => determineEffectiveSecurityContext(pod, container, 0n, "", settings),
      (err: unknown) =>
        err instanceof BerthError && err.kind === "InvalidArgument" && err.message.includes('"web"'),
    );
  });

  it("resolves Localhost profiles under the configured root", () => {
    const pod: Pod = { spec: { containers: [] } };
    const container = {
      name: "c",
      securityContext: { seccompProfile: { type: "Localhost", localhostProfile: "p/x.json" } },
    };
    const sc = determineEffectiveSecurityContext(pod, container, 0n, "", {
      seccompDefault: false,
      seccompProfileRoot: "/srv/seccomp",
    });
    assert.equal(sc.seccomp?.localhostRef, "/srv/seccomp/p/x.json");
  });
});
