# Reference values for src/cartreport/followup.py: median follow-up by the reverse Kaplan-Meier method
# (Schemper & Smith 1996) = survfit with the censoring indicator as the event.
# Run from the repository root:  Rscript tests/reference/followup.R
# Writes tests/data/reference/followup.json.
source("tests/reference/reference_json.R")
source("tests/reference/survival_cases.R")

cases <- lapply(names(survival_cases), function(name) {
  d <- survival_cases[[name]]
  fits <- lapply(c("log-log", "log", "plain"), function(ct) {
    fit <- survfit(Surv(d$time, 1 - d$event) ~ 1, conf.type = ct)
    tab <- summary(fit)$table
    list(
      call = sc(sprintf("summary(survfit(Surv(time, 1 - event) ~ 1, conf.type = '%s'))$table", ct)),
      conf_type = sc(ct),
      median = sc(tab[["median"]]), lcl = sc(tab[["0.95LCL"]]), ucl = sc(tab[["0.95UCL"]])
    )
  })
  list(
    source = sc(if (is.null(case_sources[[name]])) "constructed edge case" else case_sources[[name]]),
    time = d$time, event = d$event, fits = fits
  )
})
names(cases) <- names(survival_cases)
write_reference(
  list(provenance = provenance("tests/reference/followup.R", "survival", "null = NA in R."), cases = cases),
  "tests/data/reference/followup.json"
)
