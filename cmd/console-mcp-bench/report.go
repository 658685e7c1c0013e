package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// Row is one figure beside its baseline.
type Row struct {
	Figure     string  `json:"figure"`
	Value      float64 `json:"value"`
	Unit       string  `json:"unit"`
	Baseline   float64 `json:"baseline,omitempty"` // zero: the figure has no baseline
	BaselineOf string  `json:"baseline_of,omitempty"`
	Ratio      float64 `json:"ratio,omitempty"` // Value / Baseline
	Target     string  `json:"target,omitempty"`
	Holds      string  `json:"holds"` // yes, no, or n/a without a target
	Method     string  `json:"method"`
}

// target is a figure's goal from the issues: text for the table and the
// check of a row against it.
type target struct {
	text string
	ok   func(Row) bool
}

func valueBelow(limit float64, unit string) *target {
	return &target{fmt.Sprintf("< %s %s", num(limit), unit), func(r Row) bool { return r.Value < limit }}
}

func valueAtMost(limit float64, unit string) *target {
	return &target{fmt.Sprintf("<= %s %s", num(limit), unit), func(r Row) bool { return r.Value <= limit }}
}

func ratioAtMost(limit float64) *target {
	return &target{fmt.Sprintf("ratio <= %s", num(limit)), func(r Row) bool { return r.Ratio <= limit }}
}

func ratioAtLeast(limit float64) *target {
	return &target{fmt.Sprintf("ratio >= %s", num(limit)), func(r Row) bool { return r.Ratio >= limit }}
}

// overAtMost: the value exceeds the baseline by at most limit (same unit).
func overAtMost(limit float64, unit string) *target {
	return &target{fmt.Sprintf("<= baseline + %s %s", num(limit), unit), func(r Row) bool { return r.Value-r.Baseline <= limit }}
}

// newRow builds a row; baseline 0 means none, tgt nil means no target.
func newRow(figure string, value float64, unit string, baseline float64, baselineOf string, tgt *target, method string) Row {
	r := Row{Figure: figure, Value: value, Unit: unit, Baseline: baseline, BaselineOf: baselineOf, Method: method, Holds: "n/a"}
	if baseline != 0 {
		r.Ratio = value / baseline
	}
	if tgt != nil {
		r.Target = tgt.text
		r.Holds = "no"
		if tgt.ok(r) {
			r.Holds = "yes"
		}
	}
	return r
}

// num formats a figure with about three significant digits.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	case a >= 0.01:
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.2g", v)
}

// machine describes where the figures were taken.
type machine struct {
	CPUs   int    `json:"cpus"`
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
}

// report is the whole run.
type report struct {
	Command  string   `json:"command"`
	Date     string   `json:"date"`
	Commit   string   `json:"commit"`
	Machine  machine  `json:"machine"`
	ElapsedS float64  `json:"elapsed_s"`
	WorkDir  string   `json:"work_dir"` // removed at the end; holders were found by it
	Rows     []Row    `json:"rows"`
	Errors   []string `json:"errors,omitempty"`
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

func (rep *report) writeMarkdown(w io.Writer) {
	m := rep.Machine
	fmt.Fprintf(w, "## console-mcp figures\n\n")
	fmt.Fprintf(w, "`%s` on %s, commit %s; %d cores (%s), %s memory, %s, %s; took %.0f s.\n\n",
		strings.TrimSpace(rep.Command), rep.Date, rep.Commit, m.CPUs, m.CPU, m.Memory, m.Kernel, m.Go, rep.ElapsedS)
	fmt.Fprintln(w, "| figure | value | baseline | ratio | target | holds | method |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, r := range rep.Rows {
		base, ratio := "-", "-"
		if r.Baseline != 0 {
			base = num(r.Baseline) + " " + r.Unit
			if r.BaselineOf != "" {
				base += " (" + r.BaselineOf + ")"
			}
			ratio = num(r.Ratio)
		}
		tgt := r.Target
		if tgt == "" {
			tgt = "-"
		}
		fmt.Fprintf(w, "| %s | %s %s | %s | %s | %s | %s | %s |\n",
			cell(r.Figure), num(r.Value), r.Unit, cell(base), ratio, cell(tgt), r.Holds, cell(r.Method))
	}
	var missed []string
	for _, r := range rep.Rows {
		if r.Holds == "no" {
			missed = append(missed, r.Figure)
		}
	}
	if len(missed) > 0 {
		fmt.Fprintf(w, "\nTargets that do not hold: %s.\n", strings.Join(missed, "; "))
	}
	if len(rep.Errors) > 0 {
		fmt.Fprintln(w, "\nErrors:")
		for _, e := range rep.Errors {
			fmt.Fprintf(w, "- %s\n", cell(e))
		}
	}
}

func (rep *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
