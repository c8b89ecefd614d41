"""Sentence templates for the development server's articles.

Slots: `{kp}` the exact keyphrase, `{topic}` the keyphrase's topic ("compost bin" for "best compost
bin"), `{term}` a related keyword's topic, `{heading}` the current section's heading (lower case).
Templates are written so that any noun phrase, countable or not, reads correctly in the slot.
"""

from __future__ import annotations

KP_QUERY = (
    'People who search for "{kp}" usually want practical advice they can act on straight away.',
    'The short answer to "{kp}" depends on your goals, your space and your budget.',
    'Readers who look up "{kp}" are often comparing a few options at the same time.',
    'If "{kp}" brought you here, the sections below take the choices in a sensible order.',
    'Behind a search for "{kp}" there is usually one question: what works, and what is a waste?',
    'A search for "{kp}" turns up plenty of opinions, so this guide sticks to what is tested.',
    'Questions like "{kp}" come up again and again in reader emails.',
)
KP_NOUN = (
    "When it comes to {kp}, a little preparation saves a lot of trouble later.",
    "Good advice on {kp} is mostly about getting a few fundamentals right.",
    "Plans for {kp} do not need to be elaborate to be effective.",
    "Most problems with {kp} come from skipping the basics rather than from bad luck.",
    "An hour of research on {kp} now will pay for itself many times over.",
    "Guides to {kp} often overcomplicate things, so this one keeps to the essentials.",
)
GENERAL = (
    "Start with a clear goal, because your {topic} rewards planning more than a big budget.",
    "Most people get better results once they see how each part affects the others.",
    "A simple routine beats an elaborate plan that you abandon after two weeks.",
    "Write down what you try and what happens, so your next decision rests on evidence.",
    "Small adjustments made consistently tend to matter more than one dramatic change.",
    "If something is not working, change one thing at a time so you can see what helped.",
    "The cheapest option is not always the least expensive one over a few years.",
    "Read the instructions that come with your equipment before you start improvising.",
    "There is no single right answer, but a few choices work well in most situations.",
    "Think about the space, time and money you can realistically commit before you begin.",
    "The most common mistake is doing too much too soon, so build up gradually.",
    "A good rule of thumb is to review your {topic} every few weeks.",
    "Experienced readers will recognise these steps, yet they are easy to skip in a hurry.",
    "Patience matters here, because most improvements take a little while to show.",
    "Once the basics are in place, fine-tuning becomes easier and far less stressful.",
    "Ask someone who has done it before, since a short conversation can save a weekend.",
    "Keep the setup simple at first and add complexity only when you have a reason to.",
    "Check your progress against the goal you set, not against what other people do.",
    "It is worth setting aside a little time each week to look after your {topic}.",
    "Reliable results come from a repeatable process rather than bursts of effort.",
    "Seasonal changes affect more than most people expect, so plan around them.",
    "Good habits are easier to keep when they fit into a routine you already have.",
    "A short checklist turns a vague intention into something you actually do.",
    "Spend a little more on the parts you use every day and save on the rest.",
    "Trust what you observe over a few weeks more than any single result.",
    "Most of the benefit comes from the first few changes, so start there.",
    "When in doubt, choose the option that is easiest to undo later.",
    "It pays to be honest about how much time you will really spend on this.",
    "Measure before you change anything, or you will not know whether it worked.",
    "Friends and neighbours who have tried it are often the best source of local advice.",
    "Your {topic} will not be perfect at first, and that is perfectly normal.",
    "A realistic budget keeps the project enjoyable instead of stressful.",
)
TERM = (
    "It helps to look at {term} at the same time, since the two are closely connected.",
    "Many readers also ask about {term}, which follows the same principles.",
    "Questions about {term} come up often, and the answer usually starts with your goals.",
    "The same reasoning applies to {term}, so keep it in mind as you read on.",
    "Advice on {term} overlaps with this section more than you might expect.",
    "Decisions about {term} are easier once this part is settled.",
)
SECTION_OPENERS = (
    "This section covers {heading}, with steps you can apply today.",
    "Here is what you need to know about {heading}.",
    "Let us look at {heading} in a little more detail.",
    "Next comes {heading}, which is where many readers get stuck.",
)
H3 = (
    "Why it matters",
    "What to look for",
    "Getting started",
    "Mistakes to avoid",
    "A practical example",
    "Where {term} fits in",
    "Making it last",
    "When to change course",
)
LIST_ITEMS = (
    "Set a clear, realistic goal before you buy anything.",
    "Start small and expand once the basics work.",
    "Keep a simple log of what you change and when.",
    "Check on progress at the same time every week.",
    "Compare at least three options before committing.",
    "Ask for advice from someone with hands-on experience.",
    "Replace worn parts before they cause bigger problems.",
)
FAQ = (
    (
        "What is the easiest way to start?",
        "Begin with the simplest setup that meets your goal, then improve it as you learn "
        "what works for you.",
    ),
    (
        "How long does it take to see results?",
        "Most people notice a difference within a few weeks, although the full benefit "
        "usually takes a season or more.",
    ),
    (
        "Is it worth paying more for {term}?",
        "Often it is, provided it solves a problem you actually have rather than one you "
        "might have one day.",
    ),
    (
        "What is the most common mistake?",
        "Trying to do everything at once. A steady, consistent approach almost always works "
        "better.",
    ),
)
CLOSING = (
    "The bottom line",
    "Final thoughts",
    "Putting it all together",
)
CLOSERS = (
    "Pick one idea from this guide and try it this week.",
    "Come back to these notes whenever you want to refine your approach.",
    "With a clear plan and a little patience, the results will follow.",
)
META_LEADS = (
    "{Kp}: a practical guide to {subjects}.",
    "A practical guide to {kp}, covering {subjects}.",
    "Everything you need to know about {kp}, including {subjects}.",
)
"""The first is written for any keyphrase; the others read well only for a plain noun phrase."""
META_TAILS = (
    " Clear steps, common mistakes to avoid and answers to frequent questions.",
    " Written for beginners and experienced readers alike.",
    " Practical advice you can use today.",
    " Tested tips that save time and money.",
    " No filler.",
)
