/**
 * Items taken lowest priority number first, and in arrival order among equal numbers: a binary heap
 * keyed by (priority, arrival). What waits for a storage request slot (adaptive-limit.ts).
 */

interface Entry<T> {
  readonly item: T;
  readonly priority: number;
  readonly seq: number;
}

export class PriorityQueue<T> {
  private readonly heap: Entry<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(item: T, priority: number): void {
    const heap = this.heap;
    heap.push({ item, priority, seq: this.seq++ });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  /** The first item, removed; undefined when empty. */
  shift(): T | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined) return undefined;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let first = i;
        if (l < heap.length && before(heap[l]!, heap[first]!)) first = l;
        if (r < heap.length && before(heap[r]!, heap[first]!)) first = r;
        if (first === i) break;
        [heap[i], heap[first]] = [heap[first]!, heap[i]!];
        i = first;
      }
    }
    return top.item;
  }
}

function before<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq);
}
