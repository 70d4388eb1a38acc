//! CPU-only: every `shaders/*.wgsl` parses and validates with naga, and every file is a registered
//! kernel family (so a shader typo fails here, before any GPU run).

use std::path::Path;

use ventral::ops::FAMILIES;

#[test]
fn every_shader_parses_and_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wgsl"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 7,
        "expected the kernel shaders in {dir:?}, found {files:?}"
    );
    for path in &files {
        let source = std::fs::read_to_string(path).unwrap();
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&source)));
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let family = FAMILIES
            .iter()
            .find(|f| f.name == stem)
            .unwrap_or_else(|| panic!("{stem}.wgsl is not registered in ops::FAMILIES"));
        assert_eq!(
            family.source, source,
            "{stem}: registered source differs from the file"
        );
        // Every declared binding is in the family's explicit layout, and vice versa.
        let bindings = module
            .global_variables
            .iter()
            .filter_map(|(_, v)| v.binding.as_ref().map(|b| b.binding))
            .count();
        assert_eq!(
            bindings,
            family.bindings.len(),
            "{stem}: binding count vs layout"
        );
    }
    assert_eq!(
        files.len(),
        FAMILIES.len(),
        "a registered family has no shader file"
    );
}
