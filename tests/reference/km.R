# Reference values for src/cartreport/km.py, from R survival.
# Run from the repository root:  Rscript tests/reference/km.R
# Writes tests/data/reference/km.json.
source("tests/reference/reference_json.R")
source("tests/reference/survival_cases.R")

probs <- c(0.1, 0.25, 0.5, 0.75, 0.9)
conf_types <- c("log-log", "log", "plain")

landmark_times <- function(time) {
  # every observed time and a point between each pair (all of them for small cases, 40 of each for large ones)
  u <- sort(unique(time))
  if (length(u) > 40) u <- u[unique(round(seq(1, length(u), length.out = 40)))]
  sort(unique(c(0, u, u + 0.5, max(time) + 1, quantile(time, c(0.3, 0.6)))))
}

one_fit <- function(time, event, conf_type, conf_int) {
  fit <- survfit(Surv(time, event) ~ 1, conf.type = conf_type, conf.int = conf_int)
  times <- landmark_times(time)
  s <- summary(fit, times = times, extend = TRUE)
  q <- quantile(fit, probs = probs)
  tab <- summary(fit)$table
  list(
    call = sc(sprintf(
      "fit <- survfit(Surv(time, event) ~ 1, conf.type = '%s', conf.int = %s)", conf_type, conf_int
    )),
    conf_type = sc(conf_type),
    conf_int = sc(conf_int),
    table = list(
      time = fit$time, n_risk = fit$n.risk, n_event = fit$n.event, n_censor = fit$n.censor,
      surv = fit$surv, std_err_log = fit$std.err, lower = fit$lower, upper = fit$upper
    ),
    summary_call = sc("summary(fit, times = times, extend = TRUE)"),
    summary = list(
      time = s$time, surv = s$surv, lower = s$lower, upper = s$upper, n_risk = s$n.risk
    ),
    quantile_call = sc("quantile(fit, probs = probs)"),
    quantile = list(probs = probs, quantile = q$quantile, lower = q$lower, upper = q$upper),
    print_call = sc("summary(fit)$table  # what print(fit) shows"),
    print = list(
      median = sc(tab[["median"]]),
      lcl = sc(tab[[paste0(conf_int, "LCL")]]),
      ucl = sc(tab[[paste0(conf_int, "UCL")]])
    )
  )
}

cases <- lapply(names(survival_cases), function(name) {
  d <- survival_cases[[name]]
  fits <- lapply(conf_types, function(ct) one_fit(d$time, d$event, ct, 0.95))
  if (name %in% c("aml", "gehan_6mp", "lung")) {
    fits <- c(fits, list(one_fit(d$time, d$event, "log-log", 0.9)))
  }
  list(
    source = sc(if (is.null(case_sources[[name]])) "constructed edge case" else case_sources[[name]]),
    time = d$time,
    event = d$event,
    fits = fits
  )
})
names(cases) <- names(survival_cases)

write_reference(
  list(
    provenance = provenance(
      "tests/reference/km.R", "survival",
      c(
        "survfit table: one row per distinct time; std_err_log is R's std.err (of log S, Greenwood).",
        "summary(..., extend = TRUE) also reports times beyond the last observation.",
        "null = NA/NaN/Inf in R."
      )
    ),
    cases = cases
  ),
  "tests/data/reference/km.json"
)
