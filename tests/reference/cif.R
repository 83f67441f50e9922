# Reference values for src/cartreport/cif.py: cmprsk::cuminc (Aalen-Johansen estimate, Gray's variance),
# the tidycmprsk log(-log) confidence interval on that variance, and survival::survfit's Aalen-Johansen estimate.
# Run from the repository root:  Rscript tests/reference/cif.R
# Writes tests/data/reference/cif.json.
source("tests/reference/reference_json.R")
library(survival)
library(cmprsk)

set.seed(20240502)
sim_n <- 400
sim_t1 <- round(rexp(sim_n, 1 / 500))
sim_t2 <- round(rexp(sim_n, 1 / 700))
sim_c <- round(runif(sim_n, 0, 1000))
sim_time <- pmin(sim_t1, sim_t2, sim_c)
sim_status <- ifelse(sim_c <= pmin(sim_t1, sim_t2), 0, ifelse(sim_t1 <= sim_t2, 1, 2))

mgus_time <- ifelse(mgus2$pstat == 0, mgus2$futime, mgus2$ptime)
mgus_status <- ifelse(mgus2$pstat == 0, 2 * mgus2$death, 1)

cif_cases <- list(
  only_cause = list(time = c(1, 2, 3, 4, 5), status = c(1, 1, 1, 1, 1)),
  no_ties = list(time = c(1, 2, 3, 4, 5, 6, 7, 8), status = c(1, 2, 0, 1, 2, 1, 0, 1)),
  ties_all_kinds = list(
    time = c(1, 1, 1, 2, 2, 2, 2, 3, 4, 4, 4, 5, 6, 6),
    status = c(1, 2, 0, 1, 1, 2, 0, 2, 1, 2, 0, 0, 1, 2)
  ),
  event_at_zero = list(time = c(0, 0, 0, 1, 2, 3, 4), status = c(1, 2, 0, 1, 0, 2, 1)),
  first_censored = list(time = c(1, 2, 3, 4, 5, 6), status = c(0, 1, 2, 1, 2, 1)),
  last_is_cause = list(time = c(1, 2, 3, 4, 5), status = c(2, 0, 1, 2, 1)),
  last_is_competing = list(time = c(1, 2, 3, 4, 5), status = c(1, 0, 1, 1, 2)),
  last_censored = list(time = c(1, 2, 3, 4, 5), status = c(1, 2, 1, 2, 0)),
  no_cause_events = list(time = c(1, 2, 3, 4), status = c(2, 0, 2, 0)),
  one_patient = list(time = 3, status = 1),
  three_causes = list(
    time = c(1, 2, 2, 3, 3, 3, 4, 5, 6, 7, 8, 8),
    status = c(3, 1, 2, 1, 3, 0, 2, 1, 0, 3, 1, 2)
  ),
  mgus2 = list(time = mgus_time, status = mgus_status),
  simulated_ties = list(time = sim_time, status = sim_status)
)
case_sources <- list(
  mgus2 = paste(
    "survival::mgus2 (1384 patients): time = ifelse(pstat == 0, futime, ptime) months,",
    "status = ifelse(pstat == 0, 2 * death, 1) (1 = progression to PCM, 2 = death before it)"
  ),
  simulated_ties = paste(
    "set.seed(20240502); times round(rexp(400, 1/500)), round(rexp(400, 1/700)) and",
    "round(runif(400, 0, 1000)); the smallest decides the status (censoring wins ties)"
  )
)

tidycmprsk_ci <- function(estimate, std_error, conf_level = 0.95) {
  # tidycmprsk R/broom_methods.R (tidy.tidycuminc), after Pintilie (2006):
  # estimate^exp(-+ z * se / (estimate * log(estimate)))
  z <- qnorm((1 - conf_level) / 2)
  low <- estimate^exp(z * std_error / (estimate * log(estimate)))
  high <- estimate^exp(-z * std_error / (estimate * log(estimate)))
  low[is.nan(low)] <- NA
  high[is.nan(high)] <- NA
  list(low = low, high = high)
}

one_cause <- function(time, status, cause) {
  distinct <- sort(unique(time))
  ci <- tryCatch(cuminc(time, status, cencode = 0), error = function(e) NULL)
  key <- paste("1", cause)
  step <- if (!is.null(ci) && key %in% names(ci)) ci[[key]] else NULL
  out <- list(cause = sc(cause))
  if (is.null(step)) {
    out$cuminc_note <- sc("cuminc returns no curve for a cause without events")
  } else {
    at <- findInterval(distinct, step$time)
    est <- step$est[at]
    var <- step$var[at]
    landmarks <- sort(unique(c(0, distinct + 0.5, quantile(time, c(0.25, 0.5, 0.75)), max(time) + 1)))
    tp <- timepoints(ci, landmarks)
    cl95 <- tidycmprsk_ci(est, sqrt(var), 0.95)
    cl90 <- tidycmprsk_ci(est, sqrt(var), 0.90)
    tp_est <- tp$est[key, ]
    tp_var <- tp$var[key, ]
    tp_cl <- tidycmprsk_ci(tp_est, sqrt(tp_var), 0.95)
    out$cuminc_call <- sc(paste(
      "ci <- cuminc(time, status, cencode = 0); step <- ci[['", key, "']];",
      "values at each distinct time t: step$est[findInterval(t, step$time)] (same for step$var)"
    ))
    out$cuminc <- list(
      time = distinct, est = est, var = var,
      loglog_low_95 = cl95$low, loglog_high_95 = cl95$high,
      loglog_low_90 = cl90$low, loglog_high_90 = cl90$high
    )
    out$timepoints_call <- sc("timepoints(ci, landmarks); CI: tidycmprsk formula at conf.level = 0.95")
    out$timepoints <- list(
      time = landmarks, est = tp_est, var = tp_var, loglog_low_95 = tp_cl$low, loglog_high_95 = tp_cl$high
    )
  }
  if (any(status > 0)) {
    aj <- survfit(Surv(time, factor(status, levels = c(0, sort(unique(status[status > 0]))))) ~ 1)
    col <- match(as.character(cause), aj$states)
    out$survfit_call <- sc("survfit(Surv(time, factor(status)) ~ 1)  # Aalen-Johansen; pstate[, cause]")
    out$survfit <- list(
      time = aj$time,
      n_risk = aj$n.risk[, 1],
      pstate = if (is.na(col)) rep(0, length(aj$time)) else aj$pstate[, col]
    )
  }
  out
}

cases <- lapply(names(cif_cases), function(name) {
  d <- cif_cases[[name]]
  causes <- sort(unique(c(1, d$status[d$status > 0])))
  list(
    source = sc(if (is.null(case_sources[[name]])) "constructed edge case" else case_sources[[name]]),
    time = d$time,
    status = d$status,
    results = lapply(causes, function(k) one_cause(d$time, d$status, k))
  )
})
names(cases) <- names(cif_cases)

write_reference(
  list(
    provenance = provenance(
      "tests/reference/cif.R", c("cmprsk", "survival"),
      c(
        "cuminc: estimate and Gray's (1988) variance, evaluated at every distinct time as a right-continuous step.",
        "loglog_*: tidycmprsk's interval estimate^exp(-+z se / (estimate log estimate)), se = sqrt(cuminc var).",
        "survfit: Aalen-Johansen estimate of survival::survfit with a factor status.",
        "null = NA/NaN/Inf in R."
      )
    ),
    cases = cases
  ),
  "tests/data/reference/cif.json"
)
