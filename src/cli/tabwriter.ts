// Go's text/tabwriter, with which kubectl aligns `get` tables and `describe` output: a cell ends at a
// tab, each column is as wide as its widest cell plus padding within a block of consecutive lines that
// all have that column, and the text after a line's last tab is never padded. A line with fewer cells
// ends the blocks of the columns it lacks, which is why describe's sections align on their own.

export interface TabwriterOptions {
  /** Smallest width of a column, padding included. */
  minWidth: number;
  /** Spaces added to the widest cell of a column. */
  padding: number;
}

/** kubectl get's tables (cli-runtime's printers.GetNewTabWriter). */
export const tableTabs: TabwriterOptions = { minWidth: 6, padding: 3 };
/** kubectl describe's output (describe.tabbedString). */
export const describeTabs: TabwriterOptions = { minWidth: 0, padding: 2 };

/** Width in characters, as Go counts runes. */
const width = (s: string) => [...s].length;

/** Aligns the tab-separated cells of `text` as one flush of a Go tabwriter would. */
export function tabwrite(text: string, opts: TabwriterOptions): string {
  const lines = text.split("\n").map((l) => l.split("\t"));
  const widths: number[] = [];
  const out: string[] = [];

  const writeLines = (line0: number, line1: number) => {
    for (let i = line0; i < line1; i++) {
      const cells = lines[i] as string[];
      let s = "";
      cells.forEach((cell, j) => {
        s += cell;
        if (j < widths.length) s += " ".repeat(Math.max(0, (widths[j] as number) - width(cell)));
      });
      out.push(i + 1 < lines.length ? `${s}\n` : s);
    }
  };

  // Writer.format: the block of lines sharing `column` sets its width, then the columns to its right
  // are formatted within that block, recursively.
  const format = (start: number, end: number) => {
    let line0 = start;
    const column = widths.length;
    for (let at = start; at < end; at++) {
      if (column >= (lines[at] as string[]).length - 1) continue;
      writeLines(line0, at);
      line0 = at;
      let w = opts.minWidth;
      for (; at < end; at++) {
        const cells = lines[at] as string[];
        if (column >= cells.length - 1) break;
        w = Math.max(w, width(cells[column] as string) + opts.padding);
      }
      widths.push(w);
      format(line0, at);
      widths.pop();
      line0 = at;
    }
    writeLines(line0, end);
  };

  format(0, lines.length);
  return out.join("");
}
