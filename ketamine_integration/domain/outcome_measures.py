"""Registry entries beyond depression and anxiety (issue 24, point 5): trauma symptoms (PCL-5),
day-to-day functioning (WSAS) and the working alliance (WAI-SR). Pure data; domain/measures.py
registers them and scores every entry alike. Item wording is exactly as published; where an
instruction speaks of paper ("circle one of the numbers"), the patient's portal text says "choose",
and the items and answers are unchanged. None of the three asks about suicide or self-harm: none
has a safety rule, so none raises a safety alert (PCL-5 item 16 asks about risk-taking, not
self-harm; the clinician reads it with the rest of the record)."""
from __future__ import annotations

from .measure_model import HIGHER_IS_BETTER, Band, Item, Measure, Option

# -- PCL-5 -------------------------------------------------------------------------------------

#: the five answers of every PCL-5 item (no LOINC answer codes could be verified for them: none claimed)
BOTHERED = tuple(Option(label, value) for value, label in enumerate(
    ("Not at all", "A little bit", "Moderately", "Quite a bit", "Extremely")))

PCL5 = Measure(
    key="pcl5", name="PCL-5",
    stem="In the past month, how much were you bothered by:",
    patient_stem="Below is a list of problems that people sometimes have in response to a very stressful "
                 "experience. Please read each problem carefully and then choose one answer to indicate how much "
                 "you have been bothered by that problem in the past month. In the past month, how much were you "
                 "bothered by:",
    items=tuple(Item(text, BOTHERED) for text in (
        "Repeated, disturbing, and unwanted memories of the stressful experience?",
        "Repeated, disturbing dreams of the stressful experience?",
        "Suddenly feeling or acting as if the stressful experience were actually happening again (as if you "
        "were actually back there reliving it)?",
        "Feeling very upset when something reminded you of the stressful experience?",
        "Having strong physical reactions when something reminded you of the stressful experience (for "
        "example, heart pounding, trouble breathing, sweating)?",
        "Avoiding memories, thoughts, or feelings related to the stressful experience?",
        "Avoiding external reminders of the stressful experience (for example, people, places, conversations, "
        "activities, objects, or situations)?",
        "Trouble remembering important parts of the stressful experience?",
        "Having strong negative beliefs about yourself, other people, or the world (for example, having "
        "thoughts such as: I am bad, there is something seriously wrong with me, no one can be trusted, the "
        "world is completely dangerous)?",
        "Blaming yourself or someone else for the stressful experience or what happened after it?",
        "Having strong negative feelings such as fear, horror, anger, guilt, or shame?",
        "Loss of interest in activities that you used to enjoy?",
        "Feeling distant or cut off from other people?",
        "Trouble experiencing positive feelings (for example, being unable to feel happiness or have loving "
        "feelings for people close to you)?",
        "Irritable behavior, angry outbursts, or acting aggressively?",
        "Taking too many risks or doing things that could cause you harm?",
        "Being “superalert” or watchful or on guard?",
        "Feeling jumpy or easily startled?",
        "Having difficulty concentrating?",
        "Trouble falling or staying asleep?",
    )),
    # The PCL-5 has no empirically derived severity ranges; the National Center for PTSD gives a
    # provisional-diagnosis cut-off "between 31-33". The bands are that cut-off: below it, within its
    # range, above it (a band name is at most 30 characters: measure_responses.band).
    bands=(Band(0, 30, "Below the PTSD cut-off", short="Below cut-off"),
           Band(31, 33, "Within the PTSD cut-off range", short="Cut-off range"),
           Band(34, 80, "Above the PTSD cut-off", short="Above cut-off")),
    # LOINC 101697-1 "Post traumatic stress disorder checklist - civilian version DSM-5 [PCL-5]" (panel)
    # and 101698-9 "PTSD PCL-5 score [PCL-5]" (total), LOINC 2.82. 89204-2, named in the issue, could
    # not be verified as the PCL-5 panel and is not claimed; item codes could not be verified: None.
    loinc_panel="101697-1", loinc_total="101698-9",
    # NC-PTSD: a 5-point change is the minimum for a reliable (detectable) change, 10 points a clinically
    # meaningful one: the response here is the clinically meaningful drop. No remission is defined.
    response_drop=None, remission_below=None, response_points=10,
    sources=(
        "Weathers, Litz, Keane, Palmieri, Marx & Schnurr (2013). The PTSD Checklist for DSM-5 (PCL-5). "
        "National Center for PTSD, www.ptsd.va.gov; public domain.",
        "Cut-off 31–33 for a provisional PTSD diagnosis; 5 points a reliable change, 10 points a clinically "
        "meaningful change: National Center for PTSD, Using the PTSD Checklist for DSM-5 (PCL-5) (Blevins et "
        "al. 2015; Bovin et al. 2016).",
    ),
)

# -- WSAS --------------------------------------------------------------------------------------

#: 0-8, the published anchors on the even points (the odd points have only their number)
IMPAIRED = tuple(Option(label, value) for value, label in enumerate(
    ("0 – Not at all", "1", "2 – Slightly", "3", "4 – Definitely", "5", "6 – Markedly", "7",
     "8 – Very severely")))

WSAS = Measure(
    key="wsas", name="WSAS",
    stem="People's problems sometimes affect their ability to do certain day-to-day tasks in their lives. To "
         "rate your problems look at each section and determine on the scale provided how much your problem "
         "impairs your ability to carry out the activity.",
    patient_stem="People's problems sometimes affect their ability to do certain day-to-day tasks in their lives. "
                 "To rate your problems look at each section and determine on the scale provided how much your "
                 "problem impairs your ability to carry out the activity. Read “[problem]” as the problem you are "
                 "being treated for.",
    items=tuple(Item(text, IMPAIRED) for text in (
        "Because of my [problem] my ability to work is impaired. ‘0’ means ‘not at all impaired’ and ‘8’ means "
        "very severely impaired to the point I can't work.",
        "Because of my [problem] my home management (cleaning, tidying, shopping, cooking, looking after home or "
        "children, paying bills) is impaired.",
        "Because of my [problem] my social leisure activities (with other people e.g. parties, bars, clubs, "
        "outings, visits, dating, home entertaining) are impaired.",
        "Because of my [problem], my private leisure activities (done alone, such as reading, gardening, "
        "collecting, sewing, walking alone) are impaired.",
        "Because of my [problem], my ability to form and maintain close relationships with others, including "
        "those I live with, is impaired.",
    )),
    # Mundt et al. 2002: above 20 "moderately severe or worse psychopathology"; 10-20 "significant
    # functional impairment but less severe clinical symptomatology"; below 10 subclinical populations.
    # The middle band reads "Functional impairment": a phone's chart margin holds words of 10 letters.
    bands=(Band(0, 9, "Subclinical"), Band(10, 20, "Functional impairment"),
           Band(21, 40, "Moderately severe or worse")),
    # No LOINC panel or score for the WSAS could be found: none is claimed.
    loinc_panel=None, loinc_total=None,
    # No response or remission rule is published with the scale: change is shown, not judged.
    response_drop=None, remission_below=None,
    sources=(
        "Mundt, Marks, Shear & Greist (2002). The Work and Social Adjustment Scale: a simple measure of "
        "impairment in functioning. British Journal of Psychiatry 180:461–464 (items and the bands: under 10 "
        "subclinical, 10–20 significant functional impairment, over 20 moderately severe or worse).",
        "Copyright Isaac M. Marks; published in full in the paper and used without charge in routine care (NHS "
        "Data Dictionary: Work and Social Adjustment Scale score, 0–40).",
    ),
)

# -- WAI-SR ------------------------------------------------------------------------------------

#: 1-5, as the WAI-SR's client form numbers them
HOW_OFTEN = tuple(Option(label, value) for value, label in enumerate(
    ("Seldom", "Sometimes", "Fairly often", "Very often", "Always"), start=1))

WAISR = Measure(
    key="waisr", name="WAI-SR",
    stem="Below is a list of statements about experiences people might have with their therapy or therapist. "
         "Where a statement has a blank (___), think of your therapist's name in its place. Decide which answer "
         "best describes your own experience.",
    items=tuple(Item(text, HOW_OFTEN) for text in (
        "As a result of these sessions I am clearer as to how I might be able to change.",
        "What I am doing in therapy gives me new ways of looking at my problem.",
        "I believe ___ likes me.",
        "___ and I collaborate on setting goals for my therapy.",
        "___ and I respect each other.",
        "___ and I are working towards mutually agreed upon goals.",
        "I feel that ___ appreciates me.",
        "___ and I agree on what is important for me to work on.",
        "I feel ___ cares about me even when I do things that he/she does not approve of.",
        "I feel that the things I do in therapy will help me to accomplish the changes that I want.",
        "___ and I have established a good understanding of the kind of changes that would be good for me.",
        "I believe the way we are working with my problem is correct.",
    )),
    # A stronger alliance is a higher total (12-60); the scale publishes no cut-offs, so nothing here
    # calls a total good or poor, and no response or remission is defined.
    bands=(), better=HIGHER_IS_BETTER,
    unbanded="The WAI-SR publishes no cut-offs or bands: read its trend (a falling total is a reason to talk "
             "about the working relationship).",
    # No LOINC panel or score for the WAI-SR could be found: none is claimed.
    loinc_panel=None, loinc_total=None, response_drop=None, remission_below=None,
    # the alliance is with a therapy under way: there is nothing to rate before the first session, so
    # no baseline is asked before the first dose and each reading is read on its own
    has_baseline=False,
    sources=(
        "Hatcher & Gillaspy (2006). Development and validation of a revised short version of the Working "
        "Alliance Inventory. Psychotherapy Research 16(1):12–25 (12 items, 1–5; goal: items 4, 6, 8, 11; "
        "task: 1, 2, 10, 12; bond: 3, 5, 7, 9).",
        "Licence: the Working Alliance Inventory and its short forms are distributed open access "
        "(wai.profhorvath.com/downloads); Horvath released the rights to the Society for Psychotherapy "
        "Research, which answers permission requests.",
    ),
)
