// Wrapper module that builds kube-bench at a pinned release, for the end-to-end comparison of
// the cis node checks with it (test/e2e/cis.test.ts; hack/e2e/kube-bench.ts builds and caches it).
module kubeinspector.local/e2e/kube-bench

go 1.26.0

require github.com/aquasecurity/kube-bench v0.9.4
