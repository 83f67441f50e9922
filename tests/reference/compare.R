# Reference values for src/cartreport/compare.py: log-rank test (survival::survdiff) and Gray's test
# (cmprsk::cuminc(...)$Tests).
# Run from the repository root:  Rscript tests/reference/compare.R
# Writes tests/data/reference/compare.json.
source("tests/reference/reference_json.R")
library(survival)
library(cmprsk)

lung3 <- subset(lung, ph.ecog %in% 0:2)
set.seed(20240503)
sim_group <- sample(c("A", "B", "C"), 300, replace = TRUE)
sim_t <- round(rexp(300, ifelse(sim_group == "A", 1 / 300, ifelse(sim_group == "B", 1 / 400, 1 / 250))))
sim_c <- round(runif(300, 0, 900))
sim_cause <- sample(1:2, 300, replace = TRUE, prob = c(0.6, 0.4))

logrank_cases <- list(
  aml = list(time = aml$time, event = aml$status, group = as.character(aml$x), source = "survival::aml by x"),
  lung_sex = list(time = lung$time, event = lung$status - 1, group = as.character(lung$sex),
                  source = "survival::lung by sex"),
  lung_ecog = list(time = lung3$time, event = lung3$status - 1, group = as.character(lung3$ph.ecog),
                   source = "survival::lung with ph.ecog in 0:2, by ph.ecog (3 groups)"),
  ovarian = list(time = ovarian$futime, event = ovarian$fustat, group = as.character(ovarian$rx),
                 source = "survival::ovarian by rx"),
  tied = list(time = c(1, 1, 2, 2, 2, 3, 3, 4, 5, 5, 6, 6), event = c(1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1),
              group = c("a", "b", "a", "b", "b", "a", "b", "a", "b", "a", "b", "b"),
              source = "constructed: ties of events and censorings within and across groups"),
  simulated = list(time = pmin(sim_t, sim_c), event = as.numeric(sim_t <= sim_c), group = sim_group,
                   source = "set.seed(20240503); 3 groups, rounded exponential times, uniform censoring")
)
logrank <- lapply(logrank_cases, function(d) {
  sd <- survdiff(Surv(d$time, d$event) ~ d$group)
  df <- length(sd$n) - 1
  list(
    source = sc(d$source), time = d$time, event = d$event, group = d$group,
    call = sc("survdiff(Surv(time, event) ~ group)"),
    statistic = sc(sd$chisq), df = sc(df), p_value = sc(pchisq(sd$chisq, df, lower.tail = FALSE))
  )
})

mgus_time <- ifelse(mgus2$pstat == 0, mgus2$futime, mgus2$ptime)
mgus_status <- ifelse(mgus2$pstat == 0, 2 * mgus2$death, 1)
gray_cases <- list(
  mgus2_sex = list(time = mgus_time, status = mgus_status, group = as.character(mgus2$sex),
                   source = "survival::mgus2, progression (1) vs death (2), by sex"),
  tied = list(time = c(1, 1, 1, 2, 2, 2, 2, 3, 4, 4, 4, 5, 6, 6, 7, 8),
              status = c(1, 2, 0, 1, 1, 2, 0, 2, 1, 2, 0, 0, 1, 2, 1, 1),
              group = c("a", "b", "a", "b", "a", "a", "b", "b", "a", "b", "a", "b", "a", "b", "b", "a"),
              source = "constructed: ties of both causes and censoring"),
  simulated = list(
    time = pmin(sim_t, sim_c), status = ifelse(sim_t <= sim_c, sim_cause, 0), group = sim_group,
    source = "set.seed(20240503); 3 groups; cause 1 or 2 with probabilities 0.6 / 0.4"
  )
)
gray <- lapply(gray_cases, function(d) {
  tests <- cuminc(d$time, d$status, d$group)$Tests
  list(
    source = sc(d$source), time = d$time, status = d$status, group = d$group,
    call = sc("cuminc(time, status, group, rho = 0, cencode = 0)$Tests"),
    cause = as.numeric(rownames(tests)), statistic = tests[, "stat"], df = tests[, "df"],
    p_value = pchisq(tests[, "stat"], tests[, "df"], lower.tail = FALSE)
  )
})

write_reference(
  list(
    provenance = provenance(
      "tests/reference/compare.R", c("survival", "cmprsk"),
      "p_value = pchisq(statistic, df, lower.tail = FALSE) (cuminc itself prints 1 - pchisq)."
    ),
    logrank = logrank, gray = gray
  ),
  "tests/data/reference/compare.json"
)
