package plan

import (
	"fmt"
	"strconv"
	"strings"
)

// Request templates: `{{ expr }}` in an endpoint's path, query, header values
// and body (and in setup requests) is replaced per request. The syntax does
// not collide with ${VAR}, which is expanded once when the plan loads (before
// templates are read). Expressions:
//
//	data.SOURCE.COLUMN   the column of this request's row of data source SOURCE
//	vars.NAME            a value extracted by a setup step (a secret)
//	uuid                 a random UUID (version 4)
//	randint(LO, HI)      a random integer in [LO, HI]
//	seq                  this endpoint's request counter: 1, 2, 3, … (unique
//	                     across distributed workers)
//	"text"               the text itself (write {{ "{{" }} for a literal {{)
//
// A request that references several columns of one source takes them all
// from the same row.

// Template expression kinds.
const (
	TmplLiteral = iota
	TmplData
	TmplVar
	TmplUUID
	TmplRandInt
	TmplSeq
)

// MaxTemplateParts bounds the pieces of one template (literal runs and
// expressions), so a hostile plan cannot make every request do unbounded work.
const MaxTemplateParts = 1024

// Template is a parsed request template: literal text and expressions in order.
type Template struct {
	Parts []TemplatePart
}

// TemplatePart is one piece of a template.
type TemplatePart struct {
	Kind int
	// Lit is the text of a literal.
	Lit string
	// Source and Column name a data reference; SourceIndex and ColumnIndex
	// are their positions in Plan.Data and its Columns once resolved.
	Source, Column           string
	SourceIndex, ColumnIndex int
	// Var names a setup variable.
	Var string
	// Lo and Hi bound randint.
	Lo, Hi int64
	// Offset is the byte offset of the expression in the template text.
	Offset int
}

// HasTemplate reports whether s contains a template expression opener.
func HasTemplate(s string) bool { return strings.Contains(s, "{{") }

// TemplateError is a syntax or name problem at a byte offset of a template.
type TemplateError struct {
	Offset int
	Msg    string
}

func (e *TemplateError) Error() string {
	return fmt.Sprintf("template at offset %d: %s", e.Offset, e.Msg)
}

// ParseTemplate parses s. Names are not resolved (see Plan.CompileTemplate).
func ParseTemplate(s string) (*Template, error) {
	t := &Template{}
	lit := func(x string) {
		if x == "" {
			return
		}
		if n := len(t.Parts); n > 0 && t.Parts[n-1].Kind == TmplLiteral {
			t.Parts[n-1].Lit += x
			return
		}
		t.Parts = append(t.Parts, TemplatePart{Kind: TmplLiteral, Lit: x})
	}
	for i := 0; i < len(s); {
		open := strings.Index(s[i:], "{{")
		if open < 0 {
			lit(s[i:])
			break
		}
		lit(s[i : i+open])
		start := i + open
		end := strings.Index(s[start+2:], "}}")
		if end < 0 {
			return nil, &TemplateError{start, `unclosed {{ (write {{ "{{" }} for a literal {{)`}
		}
		inner := s[start+2 : start+2+end]
		part, err := parseExpr(strings.TrimSpace(inner), start)
		if err != nil {
			return nil, err
		}
		if part.Kind == TmplLiteral {
			lit(part.Lit)
		} else {
			t.Parts = append(t.Parts, part)
		}
		if len(t.Parts) > MaxTemplateParts {
			return nil, &TemplateError{start, fmt.Sprintf("more than %d template parts", MaxTemplateParts)}
		}
		i = start + 2 + end + 2
	}
	return t, nil
}

func parseExpr(x string, off int) (TemplatePart, error) {
	bad := func(format string, args ...any) (TemplatePart, error) {
		return TemplatePart{}, &TemplateError{off, fmt.Sprintf(format, args...)}
	}
	switch {
	case x == "":
		return bad("empty {{ }}")
	case len(x) >= 2 && x[0] == '"' && x[len(x)-1] == '"':
		return TemplatePart{Kind: TmplLiteral, Lit: x[1 : len(x)-1], Offset: off}, nil
	case x == "uuid":
		return TemplatePart{Kind: TmplUUID, Offset: off}, nil
	case x == "seq":
		return TemplatePart{Kind: TmplSeq, Offset: off}, nil
	case strings.HasPrefix(x, "randint"):
		args, ok := strings.CutPrefix(strings.TrimSpace(strings.TrimPrefix(x, "randint")), "(")
		args, ok2 := strings.CutSuffix(args, ")")
		lo, hi, ok3 := strings.Cut(args, ",")
		if !ok || !ok2 || !ok3 {
			return bad("want randint(LO, HI), got %q", x)
		}
		l, err1 := strconv.ParseInt(strings.TrimSpace(lo), 10, 64)
		h, err2 := strconv.ParseInt(strings.TrimSpace(hi), 10, 64)
		if err1 != nil || err2 != nil {
			return bad("randint bounds must be integers, got %q", x)
		}
		if l > h {
			return bad("randint(%d, %d): LO must be <= HI", l, h)
		}
		return TemplatePart{Kind: TmplRandInt, Lo: l, Hi: h, Offset: off}, nil
	case strings.HasPrefix(x, "data."):
		src, col, ok := strings.Cut(strings.TrimPrefix(x, "data."), ".")
		if !ok || !validVarName(src) || !validColumn(col) {
			return bad("want data.SOURCE.COLUMN, got %q", x)
		}
		return TemplatePart{Kind: TmplData, Source: src, Column: col, Offset: off}, nil
	case strings.HasPrefix(x, "vars."):
		name := strings.TrimPrefix(x, "vars.")
		if !validVarName(name) {
			return bad("want vars.NAME, got %q", x)
		}
		return TemplatePart{Kind: TmplVar, Var: name, Offset: off}, nil
	}
	return bad("unknown expression %q%s; one of data.SOURCE.COLUMN, vars.NAME, uuid, randint(LO, HI), seq", x,
		suggest(x, []string{"uuid", "seq", "randint"}))
}

// validColumn accepts the column names a template can name: letters, digits,
// _ and -.
func validColumn(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// Static reports whether t has no expression (it renders to one fixed text).
func (t *Template) Static() bool {
	return t == nil || len(t.Parts) == 0 || len(t.Parts) == 1 && t.Parts[0].Kind == TmplLiteral
}

// Sources lists the indices (in Plan.Data) of the data sources t references.
func (t *Template) Sources() []int {
	var out []int
	for _, pt := range t.Parts {
		if pt.Kind == TmplData && !containsInt(out, pt.SourceIndex) {
			out = append(out, pt.SourceIndex)
		}
	}
	return out
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// CompileTemplate parses s and resolves its names against the plan's data
// sources and vars (the variables available at that point). It returns nil
// for text without a template.
func (p *Plan) CompileTemplate(s string, vars []string) (*Template, error) {
	if !HasTemplate(s) {
		return nil, nil
	}
	t, err := ParseTemplate(s)
	if err != nil {
		return nil, err
	}
	for i := range t.Parts {
		pt := &t.Parts[i]
		switch pt.Kind {
		case TmplData:
			si := -1
			var names []string
			for j, d := range p.Data {
				names = append(names, d.Name)
				if d.Name == pt.Source {
					si = j
				}
			}
			if si < 0 {
				msg := fmt.Sprintf("unknown data source %q%s", pt.Source, suggest(pt.Source, names))
				if len(names) == 0 {
					msg += " (the plan's data: section defines none)"
				}
				return nil, &TemplateError{pt.Offset, msg}
			}
			ci := -1
			for j, c := range p.Data[si].Columns {
				if c == pt.Column {
					ci = j
				}
			}
			if ci < 0 {
				return nil, &TemplateError{pt.Offset, fmt.Sprintf("data source %q has no column %q%s (columns: %s)",
					pt.Source, pt.Column, suggest(pt.Column, p.Data[si].Columns), strings.Join(p.Data[si].Columns, ", "))}
			}
			pt.SourceIndex, pt.ColumnIndex = si, ci
		case TmplVar:
			if !containsString(vars, pt.Var) {
				msg := fmt.Sprintf("unknown variable %q%s", pt.Var, suggest(pt.Var, vars))
				if len(vars) == 0 {
					msg += " (variables come from setup[].extract, of earlier setup steps)"
				}
				return nil, &TemplateError{pt.Offset, msg}
			}
		}
	}
	return t, nil
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// SetupVars lists the variables setup steps extract, in order.
func (p *Plan) SetupVars() []string {
	var out []string
	for _, s := range p.Setup {
		for _, x := range s.Extract {
			out = append(out, x.Var)
		}
	}
	return out
}
