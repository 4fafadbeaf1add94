// One way to give things back: whatever must be undone when its owner goes
// (a tracefs instance with events enabled, a probe run to finish) is a
// Disposable added to a DisposableStore, and disposing the store undoes all of
// it, each thing once. Modelled on VS Code's DisposableStore, with one addition
// a process that exits needs: a disposable may be async (a probe's stop reads
// what is left), and `disposeNow()` undoes what remains synchronously when no
// later turn of the event loop will come (process 'exit').
//
// `processStore` is the root: what lives as long as the process. Pure (no Node),
// so the kernel can register in it without knowing who disposes it;
// runtime/exit.node.ts disposes it on every way out of the process.

export interface Disposable {
  dispose(): void | Promise<void>;
}

/** A Disposable that runs `fn` once. */
export function toDisposable(fn: () => void | Promise<void>): Disposable {
  let done = false;
  return {
    dispose: () => {
      if (done) return;
      done = true;
      return fn();
    },
  };
}

export class DisposableStore implements Disposable {
  private readonly items = new Set<Disposable>();
  private disposed = false;
  /** Where a disposable's error goes; disposal goes on with the rest. */
  onError: (error: unknown) => void = () => {};

  get isDisposed(): boolean {
    return this.disposed;
  }

  get size(): number {
    return this.items.size;
  }

  /** Adds `item` and returns it; added to a store already disposed, it is disposed at once. */
  add<T extends Disposable>(item: T): T {
    if (this.disposed) {
      void this.disposeOne(item);
      return item;
    }
    this.items.add(item);
    return item;
  }

  /** Forgets `item` without disposing it (its owner disposed it). */
  delete(item: Disposable): void {
    this.items.delete(item);
  }

  /**
   * Disposes every item once, in the order they were added, each after the one before has finished (an async
   * item is awaited). Items that are synchronous and come before the first async one are disposed when this returns.
   */
  async dispose(): Promise<void> {
    this.disposed = true;
    for (let item = this.takeFirst(); item; item = this.takeFirst()) {
      const pending = this.disposeOne(item);
      if (pending) await pending;
    }
  }

  /** Disposes what is left now, without waiting for any async item to finish. */
  disposeNow(): void {
    this.disposed = true;
    for (let item = this.takeFirst(); item; item = this.takeFirst()) {
      if (item instanceof DisposableStore) item.disposeNow();
      else void this.disposeOne(item);
    }
  }

  private takeFirst(): Disposable | undefined {
    const first = this.items.values().next();
    if (first.done) return undefined;
    this.items.delete(first.value);
    return first.value;
  }

  /** Disposes one item; a promise only when the item's disposal is async. */
  private disposeOne(item: Disposable): Promise<void> | undefined {
    try {
      const result = item.dispose();
      return result ? result.catch(this.onError) : undefined;
    } catch (e) {
      this.onError(e);
      return undefined;
    }
  }
}

/** What lives as long as the process: disposed on every way out of it (runtime/exit.node.ts). */
export const processStore = new DisposableStore();
