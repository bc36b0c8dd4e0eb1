// k8s-validate reads Kubernetes objects as multi-document YAML on stdin (the
// output of `kustomize build`) and decodes each one strictly into the official
// k8s.io/api types of the Kubernetes release pinned in go.mod. An unknown
// field, a duplicate field, a wrong type, a bad quantity or a kind this tool
// does not know fails the run, naming the object and the problem.
//
//	kustomize build k8s/overlays/minikube | k8s-validate          prints "N objects valid"
//	kustomize build k8s/overlays/minikube | k8s-validate --json   prints the valid objects as one JSON array
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

func main() {
	asJSON := len(os.Args) == 2 && os.Args[1] == "--json"
	if len(os.Args) > 1 && !asJSON {
		fail("usage: k8s-validate [--json] < objects.yaml")
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, autoscalingv2.AddToScheme, networkingv1.AddToScheme, policyv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			fail("registering types: %v", err)
		}
	}
	decoder := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()

	reader := utilyaml.NewYAMLReader(bufio.NewReader(os.Stdin))
	count, problems := 0, 0
	var objects [][]byte
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fail("reading YAML: %v", err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		count++
		if _, _, err := decoder.Decode(doc, nil, nil); err != nil {
			problems++
			fmt.Fprintf(os.Stderr, "object %d (%s): %v\n", count, describe(doc), err)
			continue
		}
		if asJSON {
			object, err := yaml.YAMLToJSON(doc)
			if err != nil {
				fail("object %d (%s): %v", count, describe(doc), err)
			}
			objects = append(objects, object)
		}
	}
	if count == 0 {
		fail("no objects on stdin")
	}
	if problems > 0 {
		fail("%d of %d objects are invalid", problems, count)
	}
	if asJSON {
		fmt.Printf("[%s]\n", bytes.Join(objects, []byte(",\n")))
		return
	}
	fmt.Printf("%d objects valid\n", count)
}

// describe names an object as Kind namespace/name, read loosely so that it works on invalid objects too.
func describe(doc []byte) string {
	var head struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	_ = yaml.Unmarshal(doc, &head)
	return fmt.Sprintf("%s %s/%s", head.Kind, head.Metadata.Namespace, head.Metadata.Name)
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "k8s-validate: "+format+"\n", args...)
	os.Exit(1)
}
