package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

var updateFlagsDoc = flag.Bool("update-flags-doc", false, "rewrite docs/flags.md from the commands' --help")

// flagsDocPath is the generated reference of every flag.
const flagsDocPath = "../../docs/flags.md"

// helpFlag is one flag as `tickcast CMD --help` prints it.
type helpFlag struct {
	name, kind, usage, def string
}

var (
	flagLineRE = regexp.MustCompile(`^  -([a-z0-9-]+)(?: (\w+))?$`)
	defaultRE  = regexp.MustCompile(` \(default (.*)\)$`)
)

// commandHelp runs `tickcast cmd --help` and returns its text before
// "Flags:" and its flags, in the order printed (by name).
func commandHelp(t *testing.T, cmd string) (string, []helpFlag) {
	t.Helper()
	var out bytes.Buffer // some commands print their help to stdout, serve to stderr
	err := run(context.Background(), []string{cmd, "--help"}, &out, &out)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("tickcast %s --help: %v\n%s", cmd, err, out.String())
	}
	text, flagsPart, ok := strings.Cut(out.String(), "\nFlags:\n")
	if !ok {
		t.Fatalf("tickcast %s --help has no Flags: section:\n%s", cmd, out.String())
	}
	var flags []helpFlag
	for _, line := range strings.Split(flagsPart, "\n") {
		if m := flagLineRE.FindStringSubmatch(line); m != nil {
			flags = append(flags, helpFlag{name: m[1], kind: m[2]})
			continue
		}
		if rest, ok := strings.CutPrefix(line, "    \t"); ok && len(flags) > 0 {
			f := &flags[len(flags)-1]
			f.usage = strings.TrimSpace(f.usage + " " + rest)
		}
	}
	for i := range flags {
		f := &flags[i]
		if m := defaultRE.FindStringSubmatch(f.usage); m != nil {
			f.def, f.usage = m[1], strings.TrimSuffix(f.usage, m[0])
		}
		if f.kind == "" && f.def == "" {
			f.kind = "bool"
		}
	}
	if len(flags) == 0 {
		t.Fatalf("tickcast %s --help: no flags parsed", cmd)
	}
	return text, flags
}

// flagsDoc is docs/flags.md as the commands' --help make it.
func flagsDoc(t *testing.T) string {
	var b strings.Builder
	b.WriteString(`# Flags of every command

Generated from ` + "`tickcast CMD --help`" + ` by ` + "`go test ./cmd/tickcast -run TestFlagsDoc -update-flags-doc`" + `;
the test fails when this file and the commands disagree, so every flag is
here. Durations are Go durations (` + "`250ms`, `10s`, `1h`" + `); a boolean is
set with ` + "`--flag`" + ` or ` + "`--flag=false`" + `. Which to set for a deployment:
docs/deploy.md; what the API does with them: docs/api.md.

`)
	for _, cmd := range []string{"serve", "sim", "gateway", "bench"} {
		text, flags := commandHelp(t, cmd)
		usageLine, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
		fmt.Fprintf(&b, "## `tickcast %s`\n\n`%s`\n\n| flag | default | |\n|---|---|---|\n", cmd, strings.TrimPrefix(usageLine, "Usage: "))
		for _, f := range flags {
			name := "`--" + f.name + "`"
			if f.kind != "" && f.kind != "bool" {
				name = "`--" + f.name + " " + f.kind + "`"
			}
			def := f.def
			if def == "" && f.kind == "bool" {
				def = "false"
			}
			if def != "" {
				def = "`" + strings.Trim(def, `"`) + "`"
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", name, def, strings.NewReplacer("|", `\|`, "<", "&lt;").Replace(f.usage))
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// TestFlagsDoc checks that docs/flags.md names every flag of every
// command with its --help text and default, so no flag goes undocumented.
func TestFlagsDoc(t *testing.T) {
	got := flagsDoc(t)
	if *updateFlagsDoc {
		if err := os.WriteFile(flagsDocPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(flagsDocPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Fatalf("docs/flags.md is not what the commands' --help say (a flag added, changed or removed): run\n" +
			"  go test ./cmd/tickcast -run TestFlagsDoc -update-flags-doc\nand commit docs/flags.md")
	}
}

// TestDocsNameEveryFlag checks the prose documents too: every flag of
// sim and gateway is in docs/deploy.md's tables or named in docs/, every
// flag of bench in BENCHMARKS.md or docs/ (besides the generated list).
func TestDocsNameEveryFlag(t *testing.T) {
	var prose strings.Builder
	entries, err := os.ReadDir("../../docs")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".md") || e.Name() == "flags.md" {
			continue
		}
		b, err := os.ReadFile("../../docs/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		prose.Write(b)
	}
	for _, f := range []string{"../../README.md", "../../BENCHMARKS.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		prose.Write(b)
	}
	text := prose.String()
	for _, cmd := range []string{"serve", "sim", "gateway", "bench"} {
		_, flags := commandHelp(t, cmd)
		for _, f := range flags {
			if !namesFlag(text, f.name) {
				t.Errorf("tickcast %s --%s: named in no document besides docs/flags.md (README.md, BENCHMARKS.md, docs/*.md)", cmd, f.name)
			}
		}
	}
}

// namesFlag says whether text has --name as a whole word (not --name-more).
func namesFlag(text, name string) bool {
	word := func(c byte) bool { return c == '-' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	for i := 0; ; {
		j := strings.Index(text[i:], "--"+name)
		if j < 0 {
			return false
		}
		at, end := i+j, i+j+2+len(name)
		if (at == 0 || !word(text[at-1])) && (end == len(text) || !word(text[end])) {
			return true
		}
		i = at + 1
	}
}
