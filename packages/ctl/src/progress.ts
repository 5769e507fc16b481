/**
 * A progress bar on stderr for long work (check perf/datascale, snapshot save/restore, make-mirror).
 * Drawn only when stderr is a terminal, so scripts and the differential test see none of it; stdout
 * stays exactly what etcdctl prints.
 */

/** Where a bar draws: a stream with `isTTY` and `write` (process.stderr by default). */
export interface BarStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/** Options of {@link ProgressBar}. */
export interface ProgressBarOptions {
  /** What is counted (`keys`, `s`, `bytes`), shown after the numbers. */
  unit?: string;
  /** Where to draw; the bar is silent unless `stream.isTTY`. */
  stream?: BarStream;
  /** Minimum milliseconds between redraws. */
  intervalMs?: number;
}

/**
 * Renders one bar line: `[=====>     ]  50% 5 / 10 s`, or, with no known total, a count
 * (`12345 keys`). Pure, so the layout is tested without a terminal.
 *
 * @example
 * ```ts
 * renderBar(5, 10, 20, 's'); // '[=========>          ]  50% 5 / 10 s'
 * ```
 */
export function renderBar(current: number, total: number | undefined, width: number, unit: string): string {
  const suffix = unit === '' ? '' : ` ${unit}`;
  if (total === undefined || total <= 0) return `${current}${suffix}`;
  const ratio = Math.min(1, Math.max(0, current / total));
  const filled = Math.floor(ratio * width);
  const bar = filled >= width ? '='.repeat(width) : `${'='.repeat(filled)}>${' '.repeat(width - filled - 1)}`;
  const pct = `${Math.floor(ratio * 100)}%`.padStart(4);
  return `[${bar}] ${pct} ${current} / ${total}${suffix}`;
}

/**
 * A bar that redraws itself in place (carriage return) at most every `intervalMs`.
 *
 * @example
 * ```ts
 * const bar = new ProgressBar(60, { unit: 's' });
 * bar.add(1);
 * bar.finish();
 * ```
 */
export class ProgressBar {
  private current = 0;
  private lastDraw = 0;
  private readonly stream: BarStream;
  private readonly unit: string;
  private readonly intervalMs: number;
  readonly enabled: boolean;

  constructor(
    private total: number | undefined,
    opts: ProgressBarOptions = {},
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.unit = opts.unit ?? '';
    this.intervalMs = opts.intervalMs ?? 100;
    this.enabled = this.stream.isTTY === true;
  }

  /** Sets the total once it is known (a snapshot's size arrives with its first chunk). */
  setTotal(total: number): void {
    this.total = total;
  }

  /** Advances by `n` and redraws if due. */
  add(n = 1): void {
    this.set(this.current + n);
  }

  /** Moves to `value` and redraws if due. */
  set(value: number): void {
    this.current = value;
    const now = Date.now();
    if (now - this.lastDraw >= this.intervalMs) {
      this.lastDraw = now;
      this.draw();
    }
  }

  /** Draws the final state and ends the line. */
  finish(): void {
    if (!this.enabled) return;
    this.draw();
    this.stream.write('\n');
  }

  private draw(): void {
    if (!this.enabled) return;
    const width = Math.max(10, Math.min(50, (this.stream.columns ?? 80) - 40));
    this.stream.write(`\r${renderBar(this.current, this.total, width, this.unit)}`);
  }
}
