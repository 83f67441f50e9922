# Minimal JSON writer for the reference scripts (jsonlite is not installed on the reference machine).
# Numbers are written with 17 significant digits (round-trip exact for doubles); NA, NaN and +-Inf are
# written as null. Atomic vectors are written as JSON arrays, except values marked with sc() (scalars).
# Sourced by the other scripts in tests/reference/; run them from the repository root.

sc <- function(x) structure(x, class = "json_scalar")

json_atom <- function(v) {
  if (is.character(v) || is.factor(v)) {
    v <- as.character(v)
    out <- ifelse(is.na(v), "null", paste0('"', gsub('"', '\\\\"', gsub("\\\\", "\\\\\\\\", v)), '"'))
  } else if (is.logical(v)) {
    out <- ifelse(is.na(v), "null", ifelse(v, "true", "false"))
  } else {
    v <- as.double(v)
    out <- ifelse(is.finite(v), sprintf("%.17g", v), "null")
  }
  out
}

to_json <- function(x, indent = "") {
  inner <- paste0(indent, "  ")
  if (inherits(x, "json_scalar")) {
    return(json_atom(unclass(x)))
  }
  if (is.data.frame(x)) x <- as.list(x)
  if (is.list(x)) {
    if (length(x) == 0) return(if (is.null(names(x))) "[]" else "{}")
    parts <- vapply(x, to_json, character(1), indent = inner)
    if (!is.null(names(x))) {
      parts <- paste0('"', names(x), '": ', parts)
      return(paste0("{\n", inner, paste(parts, collapse = paste0(",\n", inner)), "\n", indent, "}"))
    }
    return(paste0("[\n", inner, paste(parts, collapse = paste0(",\n", inner)), "\n", indent, "]"))
  }
  if (is.null(x)) return("null")
  paste0("[", paste(json_atom(x), collapse = ", "), "]")
}

provenance <- function(script, packages, notes = character(0)) {
  versions <- vapply(packages, function(p) as.character(packageVersion(p)), character(1))
  list(
    script = sc(script),
    r_version = sc(R.version.string),
    packages = lapply(as.list(versions), sc),
    generated = sc(format(Sys.Date())),
    notes = if (length(notes)) lapply(as.list(notes), sc) else list()
  )
}

write_reference <- function(object, path) {
  writeLines(to_json(object), path, useBytes = TRUE)
  message("wrote ", path)
}
