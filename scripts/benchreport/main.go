// Command benchreport writes docs/benchmarks.md from the raw output of
// `make bench` (bench/latest.txt), through internal/benchreport's template.
// scripts/bench.sh runs it; run it alone to re-render the page from a kept
// output:
//
//	go run ./scripts/benchreport -in bench/latest.txt -out docs/benchmarks.md
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/horae-scheduler/horae/internal/benchreport"
)

const module = "github.com/horae-scheduler/horae"

func main() {
	in := flag.String("in", "bench/latest.txt", "raw `make bench` output to read")
	out := flag.String("out", "docs/benchmarks.md", "page to write")
	tmpl := flag.String("template", "", "template file (default: the one built in, internal/benchreport/benchmarks.md.tmpl)")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*in, *out, *tmpl, logger); err != nil {
		logger.Error("benchreport failed", "err", err)
		os.Exit(1)
	}
}

func run(in, out, tmplPath string, logger *slog.Logger) error {
	text := benchreport.Template
	if tmplPath != "" {
		b, err := os.ReadFile(tmplPath)
		if err != nil {
			return fmt.Errorf("read template: %w", err)
		}
		text = string(b)
	}
	f, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("open raw output: %w", err)
	}
	defer f.Close()
	r, err := benchreport.Parse(f, in, module)
	if err != nil {
		return err
	}
	for _, p := range r.Problems {
		logger.Warn("result line not understood", "err", p)
	}
	var page bytes.Buffer
	missing, err := benchreport.Render(&page, text, r)
	if err != nil {
		return err
	}
	for _, m := range missing {
		logger.Warn("figure not in this run: the page says not run", "figure", m)
	}
	if err := os.WriteFile(out, page.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write page: %w", err)
	}
	logger.Info("page written", "out", out, "figures", len(r.Figures), "missing", len(missing))
	return nil
}
