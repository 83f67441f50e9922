# Reference values for src/cartreport/proportions.py: exact (Clopper-Pearson) intervals from stats::binom.test.
# Run from the repository root:  Rscript tests/reference/proportions.R
# Writes tests/data/reference/proportions.json.
source("tests/reference/reference_json.R")

cases <- list(
  c(16, 16), c(6, 8), c(0, 10), c(1, 1), c(0, 1), c(5, 20), c(7, 16), c(12, 16), c(3, 4), c(1, 100), c(99, 100)
)
rows <- list()
for (level in c(0.95, 0.90)) {
  for (x in cases) {
    ci <- binom.test(x[1], x[2], conf.level = level)$conf.int
    rows[[length(rows) + 1]] <- list(
      responders = sc(x[1]), evaluable = sc(x[2]), conf_level = sc(level),
      call = sc(sprintf("binom.test(%d, %d, conf.level = %s)$conf.int", x[1], x[2], level)),
      low = sc(ci[1]), high = sc(ci[2])
    )
  }
}
write_reference(
  list(provenance = provenance("tests/reference/proportions.R", "stats"), cases = rows),
  "tests/data/reference/proportions.json"
)
