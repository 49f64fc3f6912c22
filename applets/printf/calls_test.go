package printf

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCallsFormatOnlySupportedTypes type-checks every package of the binary
// and checks each call of a printf-like function (this package's, and every
// wrapper whose last parameters are `format string, args ...any`, such as
// kmsg's Errorf): the format is a constant, the operands match its verbs in
// number, and each operand has a type this package formats for its verb. It
// stands in for go vet's printf check, which knows fmt and not this package.
func TestCallsFormatOnlySupportedTypes(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: type-checks the whole module with the go tool")
	}
	pkgs := listPackages(t)
	exports := map[string]string{}
	for _, p := range pkgs {
		exports[p.path] = p.export
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		return os.Open(exports[path])
	})
	calls := 0
	for _, p := range pkgs {
		if !strings.HasPrefix(p.path, "toybox-go") {
			continue
		}
		var files []*ast.File
		for _, name := range p.files {
			f, err := parser.ParseFile(fset, filepath.Join(p.dir, name), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Uses: map[*ast.Ident]types.Object{}}
		conf := types.Config{Importer: imp}
		if _, err := conf.Check(p.path, fset, files, info); err != nil {
			t.Fatalf("type-checking %s: %v", p.path, err)
		}
		for _, f := range files {
			ast.Inspect(f, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok {
					if problem, checked := checkCall(call, info); checked {
						calls++
						if problem != "" {
							t.Errorf("%s: %s", fset.Position(call.Pos()), problem)
						}
					}
				}
				return true
			})
		}
	}
	if calls < 300 {
		t.Errorf("checked %d printf-like calls; the binary has over 300: is the walk broken?", calls)
	}
}

type listedPackage struct {
	path, export, dir string
	files             []string
}

// listPackages lists the binary's packages with their export data (built if
// need be by the go tool) and, for ours, their non-test files.
func listPackages(t *testing.T) []listedPackage {
	cmd := exec.Command("go", "list", "-deps", "-export", "-f",
		"{{.ImportPath}}\t{{.Export}}\t{{.Dir}}\t{{join .GoFiles \" \"}}", "toybox-go")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []listedPackage
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) == 4 {
			pkgs = append(pkgs, listedPackage{f[0], f[1], f[2], strings.Fields(f[3])})
		}
	}
	return pkgs
}

// checkCall reports whether call is of a printf-like function and, if so,
// what is wrong with it ("" when nothing).
func checkCall(call *ast.CallExpr, info *types.Info) (problem string, checked bool) {
	sig, ok := info.Types[call.Fun].Type.(*types.Signature)
	if !ok || !sig.Variadic() {
		return "", false
	}
	params := sig.Params()
	last, ok := params.At(params.Len() - 1).Type().(*types.Slice)
	if !ok {
		return "", false // append's string... form
	}
	if iface, ok := last.Elem().Underlying().(*types.Interface); !ok || !iface.Empty() {
		return "", false
	}
	formatAt := params.Len() - 2
	isPrintf := formatAt >= 0 && params.At(formatAt).Name() == "format" && isStringType(params.At(formatAt).Type())
	isPrintln := !isPrintf && isThisPackage(call, info) // Sprint, Sprintln, Fprintln, Println
	if !isPrintf && !isPrintln {
		return "", false
	}
	if isPrintln {
		if call.Ellipsis.IsValid() {
			return "", true
		}
		for _, a := range call.Args[params.Len()-1:] {
			if !supported(info.Types[a].Type, 'v') {
				return "operand " + types.ExprString(a) + " of type " + info.Types[a].Type.String() + " is not formatted by printf", true
			}
		}
		return "", true
	}
	if len(call.Args) <= formatAt {
		return "", true
	}
	tv := info.Types[call.Args[formatAt]]
	if tv.Value == nil || tv.Value.Kind() != constant.String {
		if len(call.Args) == formatAt+1 && !call.Ellipsis.IsValid() {
			return "format is not a constant (use \"%s\" and an operand)", true
		}
		return "", true // a wrapper passing its own format on: checked at its callers
	}
	if call.Ellipsis.IsValid() {
		return "", true
	}
	verbs, bad := verbsOf(constant.StringVal(tv.Value))
	if bad != "" {
		return bad, true
	}
	operands := call.Args[formatAt+1:]
	if len(verbs) != len(operands) {
		return "format " + tv.Value.String() + " wants " + itoa(len(verbs)) + " operands, has " + itoa(len(operands)), true
	}
	for i, a := range operands {
		typ := info.Types[a].Type
		if verbs[i] == 'w' && !isErrorf(call, info) {
			return "%w outside Errorf", true
		}
		if !supported(typ, verbs[i]) {
			return "operand " + types.ExprString(a) + " of type " + typ.String() + " is not formatted by %" + string(verbs[i]), true
		}
	}
	return "", true
}

// verbsOf lists the verb consuming each operand of format ('*' for a width
// or precision operand); bad says what is not supported.
func verbsOf(format string) (verbs []rune, bad string) {
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		for i++; i < len(format) && strings.IndexByte("#0+- 0123456789.*[]", format[i]) >= 0; i++ {
			switch format[i] {
			case '*':
				verbs = append(verbs, '*')
			case '[':
				return nil, "argument indexes are not supported"
			}
		}
		if i >= len(format) {
			return nil, "format ends in a lone %"
		}
		switch c := rune(format[i]); {
		case c == '%':
		case strings.ContainsRune("vsqdxXocbtw", c):
			verbs = append(verbs, c)
		default:
			return nil, "verb %" + string(c) + " is not supported"
		}
	}
	return verbs, ""
}

var (
	errorType    = types.Universe.Lookup("error").Type().Underlying().(*types.Interface)
	stringerType = types.NewInterfaceType([]*types.Func{
		types.NewFunc(token.NoPos, nil, "String", types.NewSignatureType(nil, nil, nil, nil,
			types.NewTuple(types.NewVar(token.NoPos, nil, "", types.Typ[types.String])), false)),
	}, nil).Complete()
)

// supported reports whether this package formats a t with verb (not as a
// bad verb); the rules of value and reflected in print.go.
func supported(t types.Type, verb rune) bool {
	if t == nil {
		return false
	}
	if verb == '*' {
		b, ok := t.Underlying().(*types.Basic)
		return ok && b.Info()&types.IsInteger != 0
	}
	if verb == 'w' {
		return types.Implements(t, errorType)
	}
	if strings.ContainsRune("vsqxX", verb) && (types.Implements(t, errorType) || types.Implements(t, stringerType)) {
		return true
	}
	if _, named := types.Unalias(t).(*types.Named); named {
		return false // a named type without String or Error: printf prints %!v(?)
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		switch {
		case u.Info()&types.IsInteger != 0:
			return strings.ContainsRune("vdxXocqb", verb)
		case u.Info()&types.IsString != 0:
			return strings.ContainsRune("vsqxX", verb)
		case u.Info()&types.IsBoolean != 0:
			return verb == 'v' || verb == 't'
		}
	case *types.Interface:
		// A dynamic value (recover's): errors, strings and integers print
		// as in fmt, anything else as %!v(?).
		return u.Empty() && verb == 'v'
	case *types.Slice:
		// []byte and []string only, the slices printf's type switch knows.
		switch e := types.Unalias(u.Elem()).(type) {
		case *types.Basic:
			switch e.Kind() {
			case types.Uint8:
				return strings.ContainsRune("vsqxXdocb", verb)
			case types.String:
				return strings.ContainsRune("vsqxX", verb)
			}
		}
	}
	return false
}

func isStringType(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Info()&types.IsString != 0
}

func calledFunc(call *ast.CallExpr, info *types.Info) *types.Func {
	var id *ast.Ident
	switch f := call.Fun.(type) {
	case *ast.SelectorExpr:
		id = f.Sel
	case *ast.Ident:
		id = f
	default:
		return nil
	}
	fn, _ := info.Uses[id].(*types.Func)
	return fn
}

func isThisPackage(call *ast.CallExpr, info *types.Info) bool {
	fn := calledFunc(call, info)
	return fn != nil && fn.Pkg() != nil && fn.Pkg().Path() == "toybox-go/applets/printf"
}

func isErrorf(call *ast.CallExpr, info *types.Info) bool {
	return isThisPackage(call, info) && calledFunc(call, info).Name() == "Errorf"
}

func itoa(n int) string { return Sprint(n) }
