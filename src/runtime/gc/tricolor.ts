// Port of containerd's gc/gc.go Tricolor: the mark phase of a tri-colour collector.

/** Every node reachable from `roots` through `refs` (nodes compare with ===). */
export function tricolor<N>(roots: Iterable<N>, refs: (node: N) => Iterable<N>): Set<N> {
  const grays = [...roots];
  // Upstream keeps "seen" and "reachable" apart; they hold the same nodes, so one set does.
  const reachable = new Set<N>();
  for (let node = grays.pop(); node !== undefined; node = grays.pop()) {
    // A node can be pushed twice before it is visited.
    if (reachable.has(node)) continue;
    reachable.add(node);
    for (const target of refs(node)) {
      if (!reachable.has(target)) grays.push(target);
    }
  }
  return reachable;
}
