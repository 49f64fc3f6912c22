package rules

import "strings"

// template is a string argument with %VAR% references, split once at load.
type template struct {
	parts []part // nil: the string has no references and is lit
	lit   string
	// unterminated: an odd number of '%'. libubox still builds the string
	// but reports an error, so the command (or isdir) using it never runs.
	unterminated bool
}

type part struct {
	_     [0]func() // not comparable: no generated equality function
	text  string
	isVar bool
}

// compileTemplate splits s at '%': text and names alternate, "%%" is a
// literal '%', "%NAME%" is NAME's value (empty when unknown).
func compileTemplate(s string) template {
	if strings.IndexByte(s, '%') < 0 {
		return template{lit: s}
	}
	var t template
	var text []byte
	inVar := false
	rest := s
	for {
		i := strings.IndexByte(rest, '%')
		if i < 0 {
			if !inVar {
				text = append(text, rest...)
			}
			break
		}
		seg := rest[:i]
		rest = rest[i+1:]
		if !inVar {
			text = append(text, seg...)
		} else if seg == "" {
			text = append(text, '%')
		} else {
			if len(text) > 0 {
				t.parts = append(t.parts, part{text: string(text)})
				text = text[:0]
			}
			t.parts = append(t.parts, part{text: seg, isVar: true})
		}
		inVar = !inVar
	}
	if inVar {
		// The text after the last '%' is a name with no closing '%';
		// libubox looks it up too, but the result is discarded anyway.
		t.unterminated = true
	}
	if len(text) > 0 {
		t.parts = append(t.parts, part{text: string(text)})
	}
	if len(t.parts) == 1 && !t.parts[0].isVar {
		t.lit, t.parts = t.parts[0].text, nil
	} else if len(t.parts) == 0 {
		t.lit, t.parts = "", nil
	}
	return t
}

// expand substitutes the variables. A template that is a single reference
// returns the value itself, and one with several parts allocates once.
func (t *template) expand(r *runState) string {
	if t.parts == nil {
		return t.lit
	}
	if len(t.parts) == 1 {
		v, _ := r.lookup(t.parts[0].text)
		return v
	}
	// Look each name up once: the values are kept on the stack for the
	// usual short templates.
	var small [8]string
	vals := small[:0]
	if len(t.parts) > len(small) {
		vals = make([]string, 0, len(t.parts))
	}
	for i := range t.parts {
		p := &t.parts[i]
		v := p.text
		if p.isVar {
			v, _ = r.lookup(p.text)
		}
		vals = append(vals, v)
	}
	return strings.Join(vals, "")
}
