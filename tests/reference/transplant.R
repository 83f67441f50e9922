# Reference values for the safety and transplant outcomes (src/cartreport/transplant_endpoints.py,
# transplant_results.py, safety.py): engraftment, acute and chronic GVHD (cmprsk::cuminc), GRFS
# (survival::survfit) and CRS / ICANS rates (binom.test), computed in R from the dates of the constructed cohorts
# tests/data/transplant_*.csv, independently of cartreport's endpoint derivation.
# Run from the repository root:  Rscript tests/reference/transplant.R
# Writes tests/data/reference/transplant.json.
source("tests/reference/reference_json.R")
suppressPackageStartupMessages({library(survival); library(cmprsk)})

landmark_days <- list(
  neutrophil_engraftment = c(28, 100), platelet_engraftment = c(28, 100),
  agvhd_2_4 = c(100, 180), agvhd_3_4 = c(100, 180),
  cgvhd = c(365, 730), cgvhd_moderate_severe = c(365, 730), grfs = c(365, 730)
)
event_column <- c(
  neutrophil_engraftment = "neutrophil_engraftment_date", platelet_engraftment = "platelet_engraftment_date",
  agvhd_2_4 = "agvhd_2_4_date", agvhd_3_4 = "agvhd_3_4_date", cgvhd = "cgvhd_date",
  cgvhd_moderate_severe = "cgvhd_date"
)

tidycmprsk_ci <- function(estimate, std_error, conf_level) {
  # tidycmprsk R/broom_methods.R (tidy.tidycuminc): estimate^exp(-+ z * se / (estimate * log(estimate)))
  z <- qnorm((1 - conf_level) / 2)
  low <- estimate^exp(z * std_error / (estimate * log(estimate)))
  high <- estimate^exp(-z * std_error / (estimate * log(estimate)))
  low[is.nan(low)] <- NA
  high[is.nan(high)] <- NA
  list(low = low, high = high)
}

# the dates as seen at the data cut-off: later events blanked, last contact capped
read_cohort <- function(path, cutoff = NA) {
  d <- read.csv(path, na.strings = "", stringsAsFactors = FALSE)
  for (col in grep("_date$", names(d), value = TRUE)) d[[col]] <- as.Date(d[[col]])
  if (!is.na(cutoff)) {
    cutoff <- as.Date(cutoff)
    d <- d[d$cart_infusion_date <= cutoff, ]
    for (col in setdiff(grep("_date$", names(d), value = TRUE), c("cart_infusion_date", "last_contact_date"))) {
      d[[col]][!is.na(d[[col]]) & d[[col]] > cutoff] <- NA
    }
    d$last_contact_date <- pmin(d$last_contact_date, cutoff)
  }
  d
}

# days from the second HSCT; dates before it count at day 0
since_hsct <- function(d, col) pmax(as.numeric(d[[col]] - d$second_hsct_date), 0)

cif_endpoint <- function(d, key, conf_levels = c(0.95, 0.90)) {
  t <- d[!is.na(d$second_hsct_date), ]
  end <- since_hsct(t, "last_contact_date")
  died <- !is.na(t$death_date)
  end[died] <- since_hsct(t, "death_date")[died]
  event <- since_hsct(t, event_column[[key]])
  if (key == "cgvhd_moderate_severe") event[!(t$cgvhd_severity %in% c("moderate", "severe"))] <- NA
  status <- ifelse(!is.na(event), 1L, ifelse(died, 2L, 0L))
  time <- ifelse(!is.na(event), event, end)
  ci <- cuminc(time, status, cencode = 0)
  step <- ci[["1 1"]]
  lm <- landmark_days[[key]]
  tp <- timepoints(ci, lm)
  est <- tp$est["1 1", ]
  se <- sqrt(tp$var["1 1", ])
  distinct <- sort(unique(time))
  at <- findInterval(distinct, step$time)
  curve_est <- ifelse(at > 0, step$est[pmax(at, 1)], 0)
  curve_var <- ifelse(at > 0, step$var[pmax(at, 1)], 0)
  at_risk <- summary(survfit(Surv(time, status > 0) ~ 1), times = lm, extend = TRUE)$n.risk
  out <- list(
    n = sc(length(time)), events = sc(sum(status == 1)), competing_events = sc(sum(status == 2)),
    time = time, status = status,
    landmark_days = lm, landmark_estimate = est, landmark_var = tp$var["1 1", ], landmark_at_risk = at_risk,
    curve_time = distinct, curve_estimate = curve_est, curve_var = curve_var
  )
  for (level in conf_levels) {
    cl <- tidycmprsk_ci(est, se, level)
    out[[paste0("landmark_ci_low_", round(level * 100))]] <- cl$low
    out[[paste0("landmark_ci_high_", round(level * 100))]] <- cl$high
  }
  out
}

grfs_endpoint <- function(d) {
  t <- d[!is.na(d$second_hsct_date), ]
  end <- since_hsct(t, "last_contact_date")
  died <- !is.na(t$death_date)
  end[died] <- since_hsct(t, "death_date")[died]
  first <- pmin(since_hsct(t, "agvhd_3_4_date"), since_hsct(t, "cgvhd_systemic_date"),
                since_hsct(t, "relapse_date"), since_hsct(t, "death_date"), na.rm = TRUE)
  first[is.infinite(first)] <- NA
  event <- as.integer(!is.na(first))
  time <- ifelse(event == 1, first, end)
  lm <- landmark_days$grfs
  out <- list(n = sc(length(time)), events = sc(sum(event)), time = time, event = event, landmark_days = lm)
  for (type in c("log-log", "log", "plain")) {
    for (level in c(0.95, 0.90)) {
      fit <- survfit(Surv(time, event) ~ 1, conf.type = type, conf.int = level)
      s <- summary(fit, times = lm, extend = TRUE)
      q <- quantile(fit, 0.5)
      out[[paste0(type, "_", round(level * 100))]] <- list(
        call = sc(sprintf("survfit(Surv(time, event) ~ 1, conf.type = '%s', conf.int = %g); summary(fit, times = c(365, 730), extend = TRUE); quantile(fit, 0.5)", type, level)),
        landmark_estimate = s$surv, landmark_ci_low = s$lower, landmark_ci_high = s$upper,
        landmark_at_risk = s$n.risk,
        median_days = sc(unname(q$quantile)), median_ci_low_days = sc(unname(q$lower)),
        median_ci_high_days = sc(unname(q$upper)),
        curve_time = fit$time, curve_estimate = fit$surv, curve_ci_low = fit$lower, curve_ci_high = fit$upper
      )
    }
  }
  out
}

grade_endpoint <- function(grades) {
  g <- grades[!is.na(grades)]
  rate <- function(x, n) {
    list(
      responders = sc(x), evaluable = sc(n), rate = sc(x / n),
      ci_low_95 = sc(binom.test(x, n)$conf.int[1]), ci_high_95 = sc(binom.test(x, n)$conf.int[2]),
      ci_low_90 = sc(binom.test(x, n, conf.level = 0.9)$conf.int[1]),
      ci_high_90 = sc(binom.test(x, n, conf.level = 0.9)$conf.int[2])
    )
  }
  counts <- lapply(as.list(table(factor(g, levels = 0:5))), function(x) sc(as.integer(x)))
  names(counts) <- as.character(0:5)
  list(counts = counts, evaluable = sc(length(g)), any = rate(sum(g >= 1), length(g)),
       grade_3_plus = rate(sum(g >= 3), length(g)))
}

one_cohort <- function(path, cutoff = NA) {
  d <- read_cohort(path, cutoff)
  list(
    file = sc(path), data_cutoff = sc(if (is.na(cutoff)) NA_character_ else cutoff),
    n_patients = sc(nrow(d)), transplanted = sc(sum(!is.na(d$second_hsct_date))),
    endpoints = c(lapply(setNames(names(event_column), names(event_column)), function(k) cif_endpoint(d, k)),
                  list(grfs = grfs_endpoint(d))),
    safety = list(crs = grade_endpoint(d$crs_grade), icans = grade_endpoint(d$icans_grade))
  )
}

write_reference(
  list(
    provenance = provenance(
      "tests/reference/transplant.R", c("survival", "cmprsk"),
      c(
        "Times in days from the second HSCT, computed in R from the CSV dates; patients without it are left out.",
        "Data cut-off: patients infused after it dropped, later dates blanked, last contact capped at it.",
        "Cumulative incidence: status 1 = the event, 2 = death without it, 0 = censored at death/last contact; for cgvhd_moderate_severe the onset counts only where cgvhd_severity is moderate or severe.",
        "cuminc(time, status, cencode = 0); timepoints(ci, landmark_days); CI tidycmprsk est^exp(-+z se/(est log est)) at 0.95 and 0.90; curve: step$est / step$var at every distinct time (0 before the first event).",
        "Numbers at risk at the landmarks: summary(survfit(Surv(time, status > 0) ~ 1), times = landmarks, extend = TRUE)$n.risk.",
        "GRFS: event = earliest of agvhd_3_4_date, cgvhd_systemic_date, relapse_date, death_date (a date before the HSCT at day 0); survfit with conf.type log-log / log / plain at 0.95 and 0.90.",
        "CRS / ICANS: table(factor(grade, levels = 0:5)) of assessed patients; binom.test(x, n) any grade (>= 1) and grade >= 3.",
        "null = NA/NaN/Inf in R."
      )
    ),
    cohorts = list(
      ties = one_cohort("tests/data/transplant_ties.csv"),
      ties_cutoff = one_cohort("tests/data/transplant_ties.csv", "2022-12-01"),
      all_engrafted = one_cohort("tests/data/transplant_all_engrafted.csv")
    )
  ),
  "tests/data/reference/transplant.json"
)
