# Reference values for the shipped cohort (data/ash2023_cd7_cart_cohort.csv), computed in R from the dates,
# independently of cartreport's endpoint derivation. tests/test_results.py compares results.json with them.
# Run from the repository root: Rscript tests/reference/shipped_cohort.R
suppressPackageStartupMessages({library(survival); library(cmprsk)})
source("tests/reference/reference_json.R")

d <- read.csv("data/ash2023_cd7_cart_cohort.csv", na.strings = "", stringsAsFactors = FALSE)
for (col in grep("_date$", names(d), value = TRUE)) d[[col]] <- as.Date(d[[col]])
end <- ifelse(is.na(d$death_date), d$last_contact_date, d$death_date)
os_time <- as.numeric(end - as.numeric(d$second_hsct_date))
os_event <- as.integer(!is.na(d$death_date))
relapse_time <- as.numeric(d$relapse_date - d$second_hsct_date)
lfs_time <- ifelse(is.na(relapse_time), os_time, pmin(relapse_time, os_time))
lfs_event <- as.integer(!is.na(d$relapse_date) | !is.na(d$death_date))
cr_status <- ifelse(!is.na(d$relapse_date), 1L, ifelse(!is.na(d$death_date), 2L, 0L))
cr_time <- ifelse(cr_status == 1L, relapse_time, os_time)
landmarks <- c(6, 12, 24) * 30.4375
z <- qnorm(0.975)

km_block <- function(time, event) {
  fit <- survfit(Surv(time, event) ~ 1, conf.type = "log-log")
  s <- summary(fit, times = landmarks, extend = TRUE)
  q <- quantile(fit, 0.5)
  list(
    n = sc(length(time)), events = sc(sum(event)),
    landmark_estimate = s$surv, landmark_ci_low = s$lower, landmark_ci_high = s$upper, landmark_at_risk = s$n.risk,
    median_days = sc(unname(q$quantile)), median_ci_low_days = sc(unname(q$lower)),
    median_ci_high_days = sc(unname(q$upper))
  )
}

cif_block <- function(cause) {
  ci <- cuminc(cr_time, cr_status, cencode = 0)
  step <- ci[[paste("1", cause)]]
  at <- timepoints(ci, landmarks)
  est <- at$est[paste("1", cause), ]
  se <- sqrt(at$var[paste("1", cause), ])
  list(
    events = sc(sum(cr_status == cause)),
    landmark_estimate = est,
    landmark_ci_low = est^exp(-z * se / (est * log(est))),
    landmark_ci_high = est^exp(z * se / (est * log(est)))
  )
}

rev_fit <- survfit(Surv(os_time, 1 - os_event) ~ 1, conf.type = "log-log")
fu <- quantile(rev_fit, 0.5)
follow_up_by_conf_type <- lapply(c("log-log", "log", "plain"), function(ct) {
  q <- quantile(survfit(Surv(os_time, 1 - os_event) ~ 1, conf.type = ct), 0.5)
  list(conf_type = sc(ct), median_days = sc(unname(q$quantile)), ci_low_days = sc(unname(q$lower)),
       ci_high_days = sc(unname(q$upper)))
})
bm <- binom.test(sum(d$bm_response == "MRD-negative CR"), nrow(d))$conf.int
emd <- d[d$emd_at_baseline == "yes", ]
emd_ci <- binom.test(sum(emd$emd_response == "CR"), nrow(emd))$conf.int

by_diagnosis <- function() {
  os_test <- survdiff(Surv(os_time, os_event) ~ d$diagnosis)
  lfs_test <- survdiff(Surv(lfs_time, lfs_event) ~ d$diagnosis)
  gray <- cuminc(cr_time, cr_status, group = d$diagnosis, cencode = 0)$Tests
  list(
    groups = sort(unique(d$diagnosis)),
    os_logrank_statistic = sc(os_test$chisq), os_logrank_p = sc(1 - pchisq(os_test$chisq, 1)),
    lfs_logrank_statistic = sc(lfs_test$chisq), lfs_logrank_p = sc(1 - pchisq(lfs_test$chisq, 1)),
    relapse_gray_statistic = sc(gray["1", "stat"]), relapse_gray_p = sc(gray["1", "pv"]),
    nrm_gray_statistic = sc(gray["2", "stat"]), nrm_gray_p = sc(gray["2", "pv"])
  )
}

out <- list(
  provenance = provenance(
    "tests/reference/shipped_cohort.R", c("survival", "cmprsk"),
    c("Times in days from the second HSCT, computed in R from the CSV dates; landmarks 6, 12, 24 months = m * 30.4375 days.",
      "KM: survfit(Surv(time, event) ~ 1, conf.type = 'log-log'); summary(fit, times = landmarks, extend = TRUE); quantile(fit, 0.5).",
      "CIF: cmprsk::cuminc(cr_time, cr_status, cencode = 0); timepoints(); tidycmprsk log(-log) CI est^exp(-+z se/(est log est)).",
      "Follow-up: quantile(survfit(Surv(os_time, 1 - os_event) ~ 1, conf.type = 'log-log'), 0.5).",
      "Follow-up by conf.type: the same with conf.type = 'log-log', 'log', 'plain' (the report's ci_method).",
      "Responses: binom.test(x, n)$conf.int (Clopper-Pearson).",
      "By diagnosis: survdiff(Surv(time, event) ~ diagnosis); cuminc(cr_time, cr_status, group = diagnosis)$Tests.")
  ),
  landmarks_days = landmarks,
  os = km_block(os_time, os_event),
  lfs = km_block(lfs_time, lfs_event),
  relapse = cif_block(1),
  nrm = cif_block(2),
  follow_up = list(median_days = sc(unname(fu$quantile)), ci_low_days = sc(unname(fu$lower)),
                   ci_high_days = sc(unname(fu$upper))),
  follow_up_by_conf_type = follow_up_by_conf_type,
  bm_mrd_negative_cr = list(responders = sc(sum(d$bm_response == "MRD-negative CR")), evaluable = sc(nrow(d)),
                            ci_low = sc(bm[1]), ci_high = sc(bm[2])),
  by_diagnosis = by_diagnosis(),
  emd_cr = list(responders = sc(sum(emd$emd_response == "CR")), evaluable = sc(nrow(emd)),
                ci_low = sc(emd_ci[1]), ci_high = sc(emd_ci[2]))
)
write_reference(out, "tests/data/reference/shipped_cohort.json")
