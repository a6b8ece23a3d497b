import assert from "node:assert/strict";
import { it } from "node:test";
import { describeTabs, tableTabs, tabwrite } from "./tabwriter.js";

it("sets each column's width per run of lines that have it (text/tabwriter's Example_elastic)", () => {
  // The b's and the d's are both second cells, yet in different columns: the third line, with one
  // cell fewer, ends the first run.
  const out = tabwrite("a\tb\tc\naa\tbb\tcc\naaa\t\naaaa\tdddd\teeee\n", { minWidth: 0, padding: 1 });
  assert.equal(out, ["a    b  c", "aa   bb cc", "aaa  ", "aaaa dddd eeee", ""].join("\n"));
});

it("pads to the minimum width, leaves the last cell of a line alone and counts characters, not bytes", () => {
  assert.equal(tabwrite("A\tB\nccc\té\tlast\n", tableTabs), ["A     B", "ccc   é     last", ""].join("\n"));
  assert.equal(
    tabwrite("Name:\tweb\nIPs:\n  IP:\t10.0.0.1\n", describeTabs),
    "Name:  web\nIPs:\n  IP:  10.0.0.1\n",
  );
});

it("writes text after the last newline as a line of its own", () => {
  assert.equal(tabwrite("a\tb\nlonger\tc", describeTabs), "a       b\nlonger  c");
  assert.equal(tabwrite("", describeTabs), "");
});
