// Package compose_test checks the deployment deliverables under compose/
// without a cluster or a container engine: every Kubernetes manifest
// decodes strictly into k8s.io/api types, every cert-manager object into
// cert-manager's v1 types and validates against the OpenAPI schemas of the
// CRDs shipped in the cert-manager module (with the apiextensions-apiserver
// validator and pruning, as the API server would), the objects refer to
// each other consistently, the Dockerfile builds what CI builds, and the
// binary built that way runs the Deployment's and the compose file's
// commands (see binary_test.go).
//
// compose/ is data; this package holds only tests, so the Kubernetes
// dependencies stay out of fakeca's binary.
package compose_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	cmacme "github.com/cert-manager/cert-manager/pkg/apis/acme/v1"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// certManagerModule is the module whose CRDs (deploy/crds) and Helm chart
// schema the objects are checked against; go.mod pins its version.
const certManagerModule = "github.com/cert-manager/cert-manager"

// manifest is one YAML document of a file under compose/.
type manifest struct {
	file       string // relative to compose/
	json       []byte // the document as JSON
	apiVersion string
	kind       string
	name       string
	namespace  string
	obj        any // the strictly decoded typed object
}

func (m manifest) String() string { return fmt.Sprintf("%s: %s %s", m.file, m.kind, m.name) }

// kustomization mirrors the fields of kustomize's Kustomization
// (sigs.k8s.io/kustomize/api/types) that compose/k8s uses; decoding is
// strict, so a field outside this list fails the test.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
	Labels     []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors,omitempty"`
		IncludeTemplates bool              `json:"includeTemplates,omitempty"`
	} `json:"labels,omitempty"`
	Images []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
	} `json:"images,omitempty"`
}

// newObject returns a pointer to the Go type of apiVersion/kind.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + " " + kind {
	case "v1 Namespace":
		return &corev1.Namespace{}, nil
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1 Secret":
		return &corev1.Secret{}, nil
	case "v1 PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, nil
	case "v1 Service":
		return &corev1.Service{}, nil
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, nil
	case "cert-manager.io/v1 ClusterIssuer":
		return &cmapi.ClusterIssuer{}, nil
	case "cert-manager.io/v1 Certificate":
		return &cmapi.Certificate{}, nil
	case "kustomize.config.k8s.io/v1beta1 Kustomization":
		return &kustomization{}, nil
	}
	return nil, fmt.Errorf("no Go type for apiVersion %q kind %q", apiVersion, kind)
}

// decodeDocs splits a YAML stream into documents and decodes each one
// strictly (unknown and duplicate fields are errors) into its Go type.
func decodeDocs(file string, data []byte) ([]manifest, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []manifest
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if string(js) == "null" { // comments only
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		obj, err := newObject(head.APIVersion, head.Kind)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return nil, fmt.Errorf("%s: %s %s: %w", file, head.Kind, head.Metadata.Name, err)
		}
		out = append(out, manifest{file: file, json: js, apiVersion: head.APIVersion, kind: head.Kind,
			name: head.Metadata.Name, namespace: head.Metadata.Namespace, obj: obj})
	}
}

// manifestFiles are the YAML files holding Kubernetes objects.
func manifestFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{"k8s", "cert-manager"} {
		matches, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			if filepath.Base(m) != "cert-manager-values.yaml" { // Helm values, not an object
				files = append(files, m)
			}
		}
	}
	if len(files) < 10 {
		t.Fatalf("found only %d manifest files: %v", len(files), files)
	}
	return files
}

// loadAll decodes every manifest file.
func loadAll(t *testing.T) []manifest {
	t.Helper()
	var all []manifest
	for _, f := range manifestFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := decodeDocs(f, data)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			t.Fatalf("%s holds no object", f)
		}
		all = append(all, ms...)
	}
	return all
}

// find returns the one object of kind and name, failing the test otherwise.
func find[T any](t *testing.T, all []manifest, kind, namespace, name string) T {
	t.Helper()
	var found []T
	for _, m := range all {
		if m.kind == kind && m.namespace == namespace && m.name == name {
			found = append(found, m.obj.(T))
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s %s/%s, found %d", kind, namespace, name, len(found))
	}
	return found[0]
}

// TestManifestsDecodeStrictly: every document of every manifest decodes
// into its Go type with unknown fields as errors, and the decoder really
// rejects unknown fields, duplicates and unknown kinds.
func TestManifestsDecodeStrictly(t *testing.T) {
	all := loadAll(t)
	kinds := map[string]bool{}
	for _, m := range all {
		kinds[m.kind] = true
		if m.name == "" && m.kind != "Kustomization" {
			t.Errorf("%s: no metadata.name", m)
		}
	}
	for _, k := range []string{"Namespace", "ServiceAccount", "ConfigMap", "Secret", "PersistentVolumeClaim",
		"Deployment", "Service", "Kustomization", "ClusterIssuer", "Certificate"} {
		if !kinds[k] {
			t.Errorf("no %s among the manifests", k)
		}
	}
	bad := []struct{ name, doc, want string }{
		{"unknown field", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {prots: []}\n", `unknown field "prots"`},
		{"unknown cert-manager field", "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata: {name: x}\nspec: {acme: {sever: https://x}}\n",
			`unknown field "sever"`},
		{"duplicate field", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x, name: z}\n", `already set in map`},
		{"unknown kind", "apiVersion: v1\nkind: Pdo\nmetadata: {name: x}\n", `no Go type for apiVersion "v1" kind "Pdo"`},
		{"wrong value type", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: https}]}\n", `cannot unmarshal string`},
		{"unknown kustomize field", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresource: [a.yaml]\n", `unknown field "resource"`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeDocs("bad.yaml", []byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// crdSchema is the v1 schema of one cert-manager CRD, ready to validate.
type crdSchema struct {
	scope      apiextensionsv1.ResourceScope
	validator  validation.SchemaValidator
	structural *structuralschema.Structural
}

var (
	crdOnce    sync.Once
	crdSchemas map[string]crdSchema // by Kind
	crdErr     error
	modDirs    sync.Map // module path → directory
)

// moduleDir is the directory of a module of the build list.
func moduleDir(t *testing.T, mod string) string {
	t.Helper()
	if d, ok := modDirs.Load(mod); ok {
		return d.(string)
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod).Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Fatalf("go list -m %s: %q, %v", mod, out, err)
	}
	modDirs.Store(mod, dir)
	return dir
}

// certManagerCRDs loads cert-manager's CRDs from the module's deploy/crds.
func certManagerCRDs(t *testing.T) map[string]crdSchema {
	t.Helper()
	dir := filepath.Join(moduleDir(t, certManagerModule), "deploy", "crds")
	crdOnce.Do(func() { crdSchemas, crdErr = loadCRDs(dir) })
	if crdErr != nil {
		t.Fatal(crdErr)
	}
	return crdSchemas
}

func loadCRDs(dir string) (map[string]crdSchema, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no CRDs in %s: %v", dir, err)
	}
	out := map[string]crdSchema{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(data, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, v := range crd.Spec.Versions {
			if v.Name != "v1" || v.Schema == nil {
				continue
			}
			var internal apiextensions.JSONSchemaProps
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			val, _, err := validation.NewSchemaValidator(&internal)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			st, err := structuralschema.NewStructural(&internal)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			out[crd.Spec.Names.Kind] = crdSchema{scope: crd.Spec.Scope, validator: val, structural: st}
		}
	}
	return out, nil
}

// validateCR validates a custom resource (as JSON) against its CRD as the
// API server does: the OpenAPI schema, then pruning, where any field the
// schema does not know is an error (kubectl's strict field validation).
func validateCR(t *testing.T, kind string, js []byte) []string {
	t.Helper()
	s, ok := certManagerCRDs(t)[kind]
	if !ok {
		return []string{"no cert-manager CRD for kind " + kind}
	}
	var obj map[string]any
	if err := utiljson.Unmarshal(js, &obj); err != nil {
		return []string{err.Error()}
	}
	var problems []string
	for _, e := range validation.ValidateCustomResource(nil, obj, s.validator) {
		problems = append(problems, e.Error())
	}
	opts := structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}
	for _, p := range pruning.PruneWithOptions(obj, s.structural, true, opts) {
		problems = append(problems, "unknown field "+p)
	}
	md, _ := obj["metadata"].(map[string]any)
	_, namespaced := md["namespace"]
	if want := s.scope == apiextensionsv1.NamespaceScoped; namespaced != want {
		problems = append(problems, fmt.Sprintf("%s is %s: metadata.namespace set = %v", kind, s.scope, namespaced))
	}
	return problems
}

// TestCertManagerObjectsMatchCRDs validates every cert-manager object
// against cert-manager's CRD schemas, and shows that the validator catches
// what the Go types cannot (enums, patterns, required fields).
func TestCertManagerObjectsMatchCRDs(t *testing.T) {
	n := 0
	for _, m := range loadAll(t) {
		if !strings.HasPrefix(m.apiVersion, "cert-manager.io/") {
			continue
		}
		n++
		t.Run(m.String(), func(t *testing.T) {
			for _, p := range validateCR(t, m.kind, m.json) {
				t.Error(p)
			}
		})
	}
	if n < 5 {
		t.Errorf("only %d cert-manager objects", n)
	}
	const ci = `{"apiVersion":"cert-manager.io/v1","kind":"ClusterIssuer","metadata":{"name":"x"%s},"spec":{"acme":{%s"privateKeySecretRef":{"name":"k"}}}}`
	bad := []struct{ name, kind, json, want string }{
		{"no server", "ClusterIssuer", fmt.Sprintf(ci, "", ""), "spec.acme.server: Required value"},
		{"long chain name", "ClusterIssuer", fmt.Sprintf(ci, "", `"server":"https://x","preferredChain":"`+strings.Repeat("x", 65)+`",`),
			"spec.acme.preferredChain: Too long"},
		{"unknown field", "ClusterIssuer", fmt.Sprintf(ci, "", `"server":"https://x","sever":"y",`), "unknown field spec.acme.sever"},
		{"namespaced ClusterIssuer", "ClusterIssuer", fmt.Sprintf(ci, `,"namespace":"d"`, `"server":"https://x",`), "ClusterIssuer is Cluster"},
		{"bad key algorithm", "Certificate", `{"apiVersion":"cert-manager.io/v1","kind":"Certificate","metadata":{"name":"x","namespace":"d"},` +
			`"spec":{"secretName":"s","issuerRef":{"name":"i"},"privateKey":{"algorithm":"DSA"}}}`, "spec.privateKey.algorithm: Unsupported value"},
	}
	for _, tc := range bad {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			p := validateCR(t, tc.kind, []byte(tc.json))
			if !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, tc.want) }) {
				t.Errorf("problems %q, want one containing %q", p, tc.want)
			}
		})
	}
	if p := validateCR(t, "ClusterIssuer", []byte(fmt.Sprintf(ci, "", `"server":"https://x",`))); len(p) > 0 {
		t.Errorf("minimal ClusterIssuer refused: %q", p)
	}
}

// TestHelmValuesMatchChartSchema checks the cert-manager Helm values
// against the chart's values.schema.json shipped in the same module.
func TestHelmValuesMatchChartSchema(t *testing.T) {
	schemaBytes, err := os.ReadFile(filepath.Join(moduleDir(t, certManagerModule), "deploy", "charts", "cert-manager", "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := utiljson.Unmarshal(schemaBytes, &schema); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("cert-manager", "cert-manager-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	for _, p := range checkJSONSchema(schema, schema, values, "") {
		t.Error(p)
	}
	if values["dns01RecursiveNameserversOnly"] != true || values["dns01RecursiveNameservers"] != "fakeca.fakeca.svc.cluster.local:53" {
		t.Errorf("values must send DNS-01 checks to fakeca's Service only: %v", values)
	}
	for name, v := range map[string]map[string]any{
		"unknown key": {"dns01RecursiveNameserverz": "x"},
		"wrong type":  {"dns01RecursiveNameserversOnly": "yes"},
		"nested":      {"crds": map[string]any{"enable": true}},
	} {
		if len(checkJSONSchema(schema, schema, v, "")) == 0 {
			t.Errorf("%s: schema check accepted %v", name, v)
		}
	}
}

// checkJSONSchema is the subset of JSON Schema the chart's schema uses
// for these values: $ref to #/$defs, type, properties and
// additionalProperties: false.
func checkJSONSchema(root, s map[string]any, v any, path string) []string {
	if ref, ok := s["$ref"].(string); ok {
		name, found := strings.CutPrefix(ref, "#/$defs/")
		defs, _ := root["$defs"].(map[string]any)
		def, ok := defs[name].(map[string]any)
		if !found || !ok {
			return []string{path + ": unresolvable $ref " + ref}
		}
		return checkJSONSchema(root, def, v, path)
	}
	want, _ := s["type"].(string)
	got := "null"
	switch v.(type) {
	case map[string]any:
		got = "object"
	case []any:
		got = "array"
	case string:
		got = "string"
	case bool:
		got = "boolean"
	case float64, int64:
		got = "number"
	}
	if want != "" && want != got && (want != "integer" || got != "number") {
		return []string{fmt.Sprintf("%s: is %s, schema wants %s", path, got, want)}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	props, _ := s["properties"].(map[string]any)
	var problems []string
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ps, ok := props[k].(map[string]any)
		if !ok {
			if s["additionalProperties"] == false {
				problems = append(problems, fmt.Sprintf("%s.%s: not in the chart's values schema", path, k))
			}
			continue
		}
		problems = append(problems, checkJSONSchema(root, ps, obj[k], path+"."+k)...)
	}
	return problems
}

// acmeOf returns a ClusterIssuer's ACME spec.
func acmeOf(t *testing.T, ci *cmapi.ClusterIssuer) *cmacme.ACMEIssuer {
	t.Helper()
	if ci.Spec.ACME == nil {
		t.Fatalf("ClusterIssuer %s has no spec.acme", ci.Name)
	}
	return ci.Spec.ACME
}
