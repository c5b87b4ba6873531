/**
 * The default spam rules, embedded in the binary. The comment at the top of the text is the
 * documentation of the rules file format: users copy rules from it into their own file.
 *
 * Implementation notes:
 * - Judged first by false positives: no single content rule scores above 2.5 except clear
 *   malware attachments, and a plain, well-formed personal message must stay below 1 point.
 *   The junk threshold is 5.0.
 * - Scores were checked against the SpamAssassin public corpus (bench/.cache/spam-assassin):
 *   rules that fired more often on ham than on spam there were lowered or made helpers.
 * - Kept in String.raw so regex backslashes are written once; no backticks or "${" inside.
 * - tests/unit/spam_rules_test.ts checks that the text parses and that every built-in check
 *   is documented here.
 */

export const DEFAULT_RULES = String.raw`
# Postern spam rules
# ==================
#
# Rules are TOML: one [[rule]] table per rule. A file of your own (rules = "..." in the [spam]
# section of config.toml) is merged over these defaults: a rule with the same name replaces the
# default one, a new name adds a rule, and your meta rules may use the default rules' names. To
# switch a default rule off, write only its name and score 0:
#
#   [[rule]]
#   name = "HTML_ONLY"
#   score = 0
#
# Points are SpamAssassin-like: a message at 5.0 or more is junk. Negative points mean
# "looks legitimate". The filter is judged first by false positives, so keep single rules small
# and let several weak signals add up.
#
# Keys every rule has
#   name         UPPER_SNAKE_CASE, unique. Names starting with "__" are helper rules: they
#                have no score, are never reported, and exist to be used in meta rules.
#   kind         what the rule tests (below)
#   score        points when it matches (may be negative; 0 disables the rule)
#   description  one line, shown in logs
#
# Regexes are JavaScript regexes written /pattern/flags (flags: i m s u). Write them in TOML
# literal strings ('...') so backslashes need no escaping. Each string tested is capped at 4096
# characters; the body and HTML are tested in pieces of at most 4096 characters cut at line
# ends, so a pattern cannot match across a long distance. Patterns that repeat a group that
# itself repeats, like (a+)+ or (\w*){2,}, are refused: they can take exponential time.
#
# Kinds and their keys
#   header   header = "Subject" (field name, any case) and one of:
#              pattern = '/regex/i'   matches when any field of that name matches (the value is
#                                     unfolded and RFC 2047-decoded)
#              exists = true          matches when the field is present
#              missing = true         matches when the field is absent
#   body     pattern = '/regex/'  on the body as text (the HTML part turned to text when there
#            is one, else the plain text part; at most 256 KiB)
#   html     pattern = '/regex/'  on the HTML source of the body ("rawbody" is the same kind)
#   uri      pattern = '/regex/'  on each link (HTML <a href> and URLs in the text);
#            field = "url" (default, the URL as written), "host" (lower-cased host name) or
#            "text" (the link's anchor text)
#   auth     our own Authentication-Results: any of spf, dkim, dmarc, arc, iprev, each a
#            result or a list of results; all given keys must match. dkim matches when any
#            signature has one of the results; no signature counts as "none".
#              spf = "fail"
#              dmarc = ["fail", "permerror"]
#   check    check = "name" of a built-in check, params = { ... } to change its parameters
#   meta     expression = 'A && (B || !C)' over other rule names; a name is 1 when its rule
#            matched and 0 when not (or when it is disabled), so counts work too:
#            'A + B + C >= 2'. Operators: ! && || + > >= < <= == != and parentheses.
#            Meta rules cannot refer to dnsbl/uribl rules.
#   dnsbl    a DNS block list of addresses, queried for the connecting client's IP address
#   uribl    a DNS block list of domains, queried for the registered domains of the links
#            Both take: zone = "zen.spamhaus.org"; target = "ip" | "sender" | "helo" | "uri"
#            (default "ip" for dnsbl, "uri" for uribl; "sender" is the MAIL FROM and From
#            domains); answers = { "127.0.0.2" = 3.0, "127.0.0.4-7" = 2.0 } giving the
#            points for each answer address (a.b.c.d-e is a range, "*" any other answer).
#            Instead of answers, score = 1.5 gives points for any answer. score = 0 disables.
#            Several answers to one query are several listings: their points add up (ZEN may
#            answer XBL and PBL at once). Answers that mean "query refused" (127.0.0.1,
#            127.255.255.252-255) never count, even under "*".
#
# Built-in checks (kind = "check"), with their params and defaults
#   Header sanity
#     missing_date, bad_date                   no Date / a Date that cannot be read
#     date_in_future    { hours = 24 }         Date ahead of now
#     date_in_past      { days = 30 }          Date long before now
#     missing_message_id, bad_message_id       no Message-ID / not <left@right>
#     missing_from, from_without_domain, from_multiple
#     duplicate_header  { names = [...] }      a field allowed once appears twice
#     multipart_broken                         multipart without boundary or parts
#     mime_without_version                     Content-Type without MIME-Version
#   HELO (the name the client gave in EHLO/HELO)
#     helo_bare_ip, helo_address_literal, helo_ip_mismatch, helo_not_fqdn, helo_localhost
#     helo_is_ours      { names = [] }         HELO is one of names, or a recipient's domain
#   Received chain
#     received_malformed                       a Received without a "by" clause
#     received_too_many { max = 25 }
#   Content
#     html_only                                HTML without a text/plain alternative
#     html_hidden_text  { min_chars = 200 }    text hidden by display:none, visibility:hidden,
#                                              font-size 0/1, opacity 0 or white on white
#     image_only        { max_words = 20 }     HTML with images and hardly any text
#     link_text_mismatch                       link text shows a host of another domain
#     url_shortener     { hosts = [...] }      bit.ly, tinyurl.com, t.co, goo.gl, ow.ly, ...
#     punycode_link, homograph_link            xn-- hosts; hosts mixing Latin with Cyrillic
#                                              or Greek, or made of lookalike letters
#     homograph_from                           the same for the From and MAIL FROM domains
#     display_name_address                     From name holds an address of another domain
#     reply_to_freemail { freemail = [...] }   Reply-To at a freemail domain unlike From's
#     subject_all_caps  { min_letters = 10 }
#     subject_punctuation { run = 3 }          a run like "!!!" or "$$$"
#   Attachments
#     attachment_extension { extensions = [...] }   name ends in an executable extension
#     attachment_double_extension { extensions = [...] }   like invoice.pdf.exe
#     attachment_type   { types = [...] }      application/x-msdownload and the like

# --- Authentication (our own Authentication-Results) -----------------------------------------

[[rule]]
name = "SPF_FAIL"
kind = "auth"
spf = "fail"
score = 1.5
description = "SPF fail: the sending host is not allowed to send for the MAIL FROM domain"

[[rule]]
name = "SPF_SOFTFAIL"
kind = "auth"
spf = "softfail"
score = 0.5
description = "SPF softfail"

[[rule]]
name = "SPF_PERMERROR"
kind = "auth"
spf = "permerror"
score = 0.2
description = "SPF record of the MAIL FROM domain is broken"

[[rule]]
name = "SPF_PASS"
kind = "auth"
spf = "pass"
score = -0.1
description = "SPF pass"

[[rule]]
name = "DKIM_VALID"
kind = "auth"
dkim = "pass"
score = -0.2
description = "at least one valid DKIM signature"

[[rule]]
name = "DKIM_INVALID"
kind = "auth"
dkim = ["fail", "permerror"]
score = 0.1
description = "a DKIM signature that does not verify (lists often break them)"

[[rule]]
name = "DMARC_PASS"
kind = "auth"
dmarc = "pass"
score = -1.0
description = "DMARC pass: the From domain is authenticated"

[[rule]]
name = "DMARC_FAIL"
kind = "auth"
dmarc = "fail"
score = 3.0
description = "DMARC fail: the From domain is not authenticated"

[[rule]]
name = "ARC_PASS"
kind = "auth"
arc = "pass"
score = -0.1
description = "a valid ARC chain"

[[rule]]
name = "ARC_FAIL"
kind = "auth"
arc = "fail"
score = 0.3
description = "a broken ARC chain"

[[rule]]
name = "IPREV_FAIL"
kind = "auth"
iprev = "fail"
score = 0.5
description = "the client's PTR name does not resolve back to its address"

[[rule]]
name = "IPREV_NONE"
kind = "auth"
iprev = "permerror"
score = 0.3
description = "the client's address has no PTR name"

# --- Header sanity -----------------------------------------------------------------------------

[[rule]]
name = "MISSING_DATE"
kind = "check"
check = "missing_date"
score = 1.0
description = "no Date field"

[[rule]]
name = "BAD_DATE"
kind = "check"
check = "bad_date"
score = 0.5
description = "a Date field that cannot be read"

[[rule]]
name = "DATE_IN_FUTURE"
kind = "check"
check = "date_in_future"
params = { hours = 24 }
score = 1.0
description = "Date more than a day ahead"

[[rule]]
name = "DATE_IN_FUTURE_3H"
kind = "check"
check = "date_in_future"
params = { hours = 3 }
score = 0.5
description = "Date more than three hours ahead (with DATE_IN_FUTURE past a day)"

[[rule]]
name = "DATE_IN_PAST"
kind = "check"
check = "date_in_past"
params = { days = 30 }
score = 0.5
description = "Date more than 30 days ago"

[[rule]]
name = "MISSING_MID"
kind = "check"
check = "missing_message_id"
score = 0.5
description = "no Message-ID field"

[[rule]]
name = "BAD_MID"
kind = "check"
check = "bad_message_id"
score = 0.5
description = "Message-ID not of the form <left@right>"

[[rule]]
name = "MISSING_FROM"
kind = "check"
check = "missing_from"
score = 1.0
description = "no From address"

[[rule]]
name = "FROM_NO_DOMAIN"
kind = "check"
check = "from_without_domain"
score = 1.0
description = "a From address without a dotted domain"

[[rule]]
name = "FROM_MULTIPLE"
kind = "check"
check = "from_multiple"
score = 0.5
description = "more than one From address"

[[rule]]
name = "DUPLICATE_HEADER"
kind = "check"
check = "duplicate_header"
score = 0.5
description = "a field allowed once (From, Subject, Date...) appears twice"

[[rule]]
name = "MULTIPART_BROKEN"
kind = "check"
check = "multipart_broken"
score = 0.8
description = "multipart message without a boundary or without parts"

[[rule]]
name = "MIME_NO_VERSION"
kind = "check"
check = "mime_without_version"
score = 0.1
description = "Content-Type without MIME-Version"

[[rule]]
name = "MISSING_SUBJECT"
kind = "header"
header = "Subject"
missing = true
score = 0.5
description = "no Subject field"

[[rule]]
name = "EMPTY_SUBJECT"
kind = "header"
header = "Subject"
pattern = '/^\s*$/'
score = 0.2
description = "an empty Subject"

[[rule]]
name = "MISSING_TO"
kind = "header"
header = "To"
missing = true
score = 0.1
description = "no To field"

# --- HELO --------------------------------------------------------------------------------------

[[rule]]
name = "HELO_BARE_IP"
kind = "check"
check = "helo_bare_ip"
score = 1.0
description = "HELO is an IP address without brackets"

[[rule]]
name = "HELO_ADDRESS_LITERAL"
kind = "check"
check = "helo_address_literal"
score = 0.3
description = "HELO is an address literal"

[[rule]]
name = "HELO_IP_MISMATCH"
kind = "check"
check = "helo_ip_mismatch"
score = 1.0
description = "HELO is an IP address other than the client's"

[[rule]]
name = "HELO_NOT_FQDN"
kind = "check"
check = "helo_not_fqdn"
score = 0.5
description = "HELO is not a fully qualified host name"

[[rule]]
name = "HELO_LOCALHOST"
kind = "check"
check = "helo_localhost"
score = 1.0
description = "HELO claims to be localhost"

[[rule]]
name = "HELO_IS_OURS"
kind = "check"
check = "helo_is_ours"
score = 1.5
description = "HELO claims to be our own domain"

# --- Received chain ----------------------------------------------------------------------------

[[rule]]
name = "RECEIVED_MALFORMED"
kind = "check"
check = "received_malformed"
score = 0.3
description = "a Received field without a by clause"

[[rule]]
name = "RECEIVED_TOO_MANY"
kind = "check"
check = "received_too_many"
params = { max = 25 }
score = 0.5
description = "more than 25 Received fields"

# --- Subject -----------------------------------------------------------------------------------

[[rule]]
name = "SUBJ_ALL_CAPS"
kind = "check"
check = "subject_all_caps"
score = 0.7
description = "subject in capitals"

[[rule]]
name = "SUBJ_PUNCTUATION"
kind = "check"
check = "subject_punctuation"
score = 0.5
description = "subject with !!! or $$$"

# --- Addresses ---------------------------------------------------------------------------------

[[rule]]
name = "DISPLAY_NAME_ADDRESS"
kind = "check"
check = "display_name_address"
score = 0.5
description = "From display name shows an address of another domain"

[[rule]]
name = "REPLY_TO_FREEMAIL"
kind = "check"
check = "reply_to_freemail"
score = 0.8
description = "replies go to a freemail address, not to the From domain"

[[rule]]
name = "HOMOGRAPH_FROM"
kind = "check"
check = "homograph_from"
score = 2.5
description = "sender domain spelled with lookalike letters"

# --- HTML and links ----------------------------------------------------------------------------

[[rule]]
name = "HTML_ONLY"
kind = "check"
check = "html_only"
score = 0.3
description = "HTML without a plain text alternative"

[[rule]]
name = "HTML_HIDDEN_TEXT"
kind = "check"
check = "html_hidden_text"
params = { min_chars = 200 }
score = 0.5
description = "much text hidden from the reader"

[[rule]]
name = "IMAGE_ONLY"
kind = "check"
check = "image_only"
params = { max_words = 20 }
score = 0.4
description = "images with hardly any text"

[[rule]]
name = "LINK_TEXT_MISMATCH"
kind = "check"
check = "link_text_mismatch"
score = 0.1
description = "a link showing one domain and leading to another"

[[rule]]
name = "URL_SHORTENER"
kind = "check"
check = "url_shortener"
score = 0.3
description = "a link through a URL shortener"

[[rule]]
name = "PUNYCODE_LINK"
kind = "check"
check = "punycode_link"
score = 0.3
description = "a link to an internationalised (xn--) host"

[[rule]]
name = "HOMOGRAPH_LINK"
kind = "check"
check = "homograph_link"
score = 2.0
description = "a link host spelled with lookalike letters"

[[rule]]
name = "__HTML_FORM"
kind = "html"
pattern = '/<form\b/i'
description = "HTML with a form (newsletters have them too: only used in a meta rule)"

[[rule]]
name = "URI_JAVASCRIPT"
kind = "uri"
pattern = '/^\s*javascript:/i'
score = 0.2
description = "a javascript: link"

[[rule]]
name = "URI_DATA"
kind = "uri"
pattern = '/^\s*data:/i'
score = 1.0
description = "a data: link"

[[rule]]
name = "URI_NUMERIC_HOST"
kind = "uri"
field = "host"
pattern = '/^\d{1,3}(?:\.\d{1,3}){3}$/'
score = 1.0
description = "a link to a bare IP address"

[[rule]]
name = "URI_USERINFO"
kind = "uri"
pattern = '/^\s*https?:\/\/[^\/?#]*@/i'
score = 1.0
description = "a link with user@ before the host (hides the real host)"

[[rule]]
name = "URI_CHEAP_TLD"
kind = "uri"
field = "host"
pattern = '/\.(?:top|xyz|click|zip|mov|rest|cam|icu|buzz|monster|cfd|sbs|quest)$/'
score = 0.5
description = "a link into a top-level domain much used by spam"

# --- Body text ---------------------------------------------------------------------------------

[[rule]]
name = "BODY_PRIZE"
kind = "body"
pattern = '/\b(?:you have (?:been selected|won)|lottery winner|claim your (?:prize|reward))\b/i'
score = 1.0
description = "prize or lottery claims"

[[rule]]
name = "BODY_ADVANCE_FEE"
kind = "body"
pattern = '/\b(?:next of kin|(?:sum|fund|inheritance) of (?:us)?\$?\d[\d,.]* ?(?:million|m\b)|beneficiary of (?:the|this) (?:fund|sum|inheritance))/i'
score = 1.5
description = "advance-fee fraud phrases"

[[rule]]
name = "BODY_VERIFY_ACCOUNT"
kind = "body"
pattern = '/\b(?:verify|confirm|update|validate) your (?:account|password|identity|billing|mailbox)\b/i'
score = 0.8
description = "asks to verify an account"

[[rule]]
name = "BODY_ACCOUNT_SUSPENDED"
kind = "body"
pattern = '/\b(?:account|mailbox) (?:has been|will be|is) (?:suspended|locked|closed|disabled|deactivated)\b/i'
score = 0.8
description = "threatens account suspension"

[[rule]]
name = "BODY_PHARMA"
kind = "body"
pattern = '/\b(?:viagra|cialis|levitra|tramadol)\b/i'
score = 1.0
description = "pharmacy spam words"

[[rule]]
name = "BODY_GIFT_CARD"
kind = "body"
pattern = '/\b(?:buy|purchase|get) (?:some |the |a few )?(?:itunes|apple|google play|amazon|steam|ebay) gift ?cards?\b/i'
score = 1.0
description = "asks to buy gift cards (CEO fraud)"

[[rule]]
name = "BODY_EASY_MONEY"
kind = "body"
pattern = '/\b(?:work from home and earn|earn \$?\d[\d,]* (?:per|a|every) (?:day|week)|100% (?:free|guaranteed))\b/i'
score = 1.0
description = "easy money promises"

[[rule]]
name = "__SEXTORTION"
kind = "body"
pattern = '/\b(?:recorded you|your webcam|intimate video|masturbat|pervert|i hacked your)/i'
description = "sextortion phrases"

[[rule]]
name = "__BITCOIN_ADDRESS"
kind = "body"
pattern = '/\b(?:bc1[a-z0-9]{25,59}|[13][a-km-zA-HJ-NP-Z1-9]{25,34})\b/'
description = "a bitcoin address"

[[rule]]
name = "SEXTORTION_BITCOIN"
kind = "meta"
expression = '__SEXTORTION && __BITCOIN_ADDRESS'
score = 2.5
description = "sextortion with a bitcoin address"

[[rule]]
name = "BODY_DEAR_SOMETHING"
kind = "body"
pattern = '/\bDear (?:friend|internet user|candidate|sirs?|madam|investor|travell?er|car shopper|web user|homeowner|valued (?:customer|member)|sir\s?\/\s?madam)\b/i'
score = 1.0
description = "an impersonal greeting of bulk mail: Dear friend, Dear sir/madam"

[[rule]]
name = "BODY_REMOVE_ME"
kind = "body"
pattern = '/\b(?:click here to (?:be )?(?:removed|remove|unsubscribe)|to be removed from (?:our|this|any|future)|(?:reply|respond) with ["\x27]?remove\b|["\x27]remove["\x27] in the subject|remove in the subject)/i'
score = 1.0
description = "bulk mail's removal instructions: click here to be removed"

[[rule]]
name = "BODY_NOT_SPAM_CLAIM"
kind = "body"
pattern = '/\b(?:this (?:e-?mail |message )?is not (?:a )?spam|(?:is|are) not unsolicited|in compliance with (?:the )?(?:proposed )?federal|bill s\.? ?1618|section 301)/i'
score = 1.0
description = "mail that claims not to be spam or cites the 1998 anti-spam bill"

[[rule]]
name = "BODY_GUARANTEED_BANG"
kind = "body"
pattern = '/\bguaranteed?!/i'
score = 1.0
description = "Guaranteed! with an exclamation mark"

[[rule]]
name = "BODY_MILLION_USD"
kind = "body"
pattern = '/\bmillion\b.{0,40}\b(?:united states? dollars?|usd)\b/i'
score = 1.0
description = "millions of US dollars, the advance-fee fraud's sum"

# --- Forged mailer shapes ----------------------------------------------------------------------
# Outlook and Outlook Express write Message-IDs of a known shape and an X-MimeOLE field; ratware
# that claims to be them rarely gets both right (SpamAssassin's FORGED_MUA_OUTLOOK and kin).

[[rule]]
name = "__OUTLOOK_MUA"
kind = "header"
header = "X-Mailer"
pattern = '/(?:\bOutlook Express [456]\.|^Microsoft Outlook(?: 8| CWS, Build 9|, Build 10)\.)/'
description = "X-Mailer names Outlook or Outlook Express of the 2000s"

[[rule]]
name = "__OUTLOOK_FAKE_MUA"
kind = "header"
header = "X-Mailer"
pattern = '/^Outlook$/'
description = "X-Mailer is just Outlook"

[[rule]]
name = "__OUTLOOK_MSGID"
kind = "header"
header = "Message-ID"
pattern = '/^<(?:(?:[0-9a-f]{8}|[0-9a-f]{12})\$[0-9a-f]{8}\$[0-9a-f]{8}@\S+|[A-Za-z0-9-]{7}[A-Za-z0-9]{20}@hotmail\.com)>$/'
description = "a Message-ID of the shape Outlook writes"

[[rule]]
name = "__MSGID_DOLLARS"
kind = "header"
header = "Message-ID"
pattern = '/<[0-9a-f]{4,}\$[0-9a-f]{4,}\$[0-9a-f]{4,}@\S+>/'
description = "a Message-ID of hex groups joined by dollar signs"

[[rule]]
name = "__HAS_MSGID"
kind = "header"
header = "Message-ID"
exists = true
description = "a Message-ID field"

[[rule]]
name = "__MIMEOLE_MS"
kind = "header"
header = "X-MimeOLE"
pattern = '/^Produced By Microsoft MimeOLE/'
description = "X-MimeOLE written by Microsoft MimeOLE"

[[rule]]
name = "__RCVD_WITH_EXCHANGE"
kind = "header"
header = "Received"
pattern = '/with Microsoft Exchange Server/'
description = "received by Microsoft Exchange"

[[rule]]
name = "__OUTLOOK_MODERN_MUA"
kind = "header"
header = "X-Mailer"
pattern = '/^Microsoft (?:Office )?Outlook (?:1[2-9]|[2-9]\d)\./'
description = "Outlook 2007 and later, which write no X-MimeOLE"

[[rule]]
name = "FORGED_MUA_OUTLOOK"
kind = "meta"
expression = '(__OUTLOOK_MUA && __HAS_MSGID && !__OUTLOOK_MSGID) || __OUTLOOK_FAKE_MUA'
score = 1.5
description = "claims to be Outlook but its Message-ID is not Outlook's"

[[rule]]
name = "RATWARE_MS_HASH"
kind = "meta"
expression = '__MSGID_DOLLARS && !__MIMEOLE_MS && !__OUTLOOK_MODERN_MUA && !__RCVD_WITH_EXCHANGE'
score = 1.5
description = "an Outlook-shaped Message-ID without Outlook's X-MimeOLE"

[[rule]]
name = "__HAS_X_MAILER"
kind = "header"
header = "X-Mailer"
exists = true
description = "an X-Mailer field"

[[rule]]
name = "RATWARE_OUTLOOK_NONAME"
kind = "meta"
expression = '__MSGID_DOLLARS && !__HAS_X_MAILER && !__RCVD_WITH_EXCHANGE'
score = 1.0
description = "an Outlook-shaped Message-ID without an X-Mailer field"

[[rule]]
name = "__LOTS_OF_MONEY"
kind = "body"
pattern = '/(?:\$\s?\d{1,3}(?:,\d{3}){2,}|\$\s?\d+(?:\.\d+)? ?million\b|\b\d+ million (?:us )?dollars\b)/i'
description = "sums in millions of dollars"

[[rule]]
name = "MONEY_BULK_MAIL"
kind = "meta"
expression = '__LOTS_OF_MONEY && (BODY_DEAR_SOMETHING || BODY_REMOVE_ME || BODY_NOT_SPAM_CLAIM || BODY_GUARANTEED_BANG || FORGED_MUA_OUTLOOK || RATWARE_MS_HASH || RATWARE_OUTLOOK_NONAME)'
score = 1.0
description = "millions of dollars in mail of bulk shape"

[[rule]]
name = "__FRAUD_BENEFICIARY"
kind = "body"
pattern = '/\b(?:foreign (?:partner|beneficiary|account)|(?:a|the) beneficiary (?:to|of) (?:my|the|this)|beneficiary needed)\b/i'
description = "asks for a foreign partner or beneficiary"

[[rule]]
name = "__FRAUD_TRANSFER"
kind = "body"
pattern = '/\btransfer(?:red)? (?:of )?(?:the|this|these|my) (?:funds?|sum|money|amount|deposit)\b/i'
description = "transfer of the fund"

[[rule]]
name = "__FRAUD_VAULT"
kind = "body"
pattern = '/\b(?:security (?:company|vault)|deposited (?:fund|sum|money)|(?:fund|consignment) (?:is |was )?deposited)\b/i'
description = "a fund deposited with a security company"

[[rule]]
name = "__FRAUD_SHARE"
kind = "body"
pattern = '/\b(?:(?:your|service) (?:share|percentage|commission) (?:of|for|will)|\d{1,2} ?% (?:of (?:the|this) (?:total |entire )?(?:sum|fund|amount|money)))/i'
description = "your share of the fund"

[[rule]]
name = "__FRAUD_CONFIDENTIAL"
kind = "body"
pattern = '/\b(?:strict(?:est|ly)? confiden(?:ce|tial(?:ity)?)|utmost (?:confidentiality|secrecy)|absolute confidentiality)\b/i'
description = "insists on strict confidence"

[[rule]]
name = "__FRAUD_LOTTERY"
kind = "body"
pattern = '/\b(?:award notification|lotto|lottery|winning (?:number|ticket)|claims? (?:agent|officer)|prize award)\b/i'
description = "a lottery award"

[[rule]]
name = "ADVANCE_FEE_PHRASES"
kind = "meta"
expression = '__FRAUD_BENEFICIARY + __FRAUD_TRANSFER + __FRAUD_VAULT + __FRAUD_SHARE + __FRAUD_CONFIDENTIAL + __FRAUD_LOTTERY + BODY_ADVANCE_FEE + BODY_MILLION_USD + BODY_PRIZE >= 2'
score = 1.0
description = "two or more phrases of advance-fee and lottery fraud"

[[rule]]
name = "ADVANCE_FEE_PHRASES_MANY"
kind = "meta"
expression = '__FRAUD_BENEFICIARY + __FRAUD_TRANSFER + __FRAUD_VAULT + __FRAUD_SHARE + __FRAUD_CONFIDENTIAL + __FRAUD_LOTTERY + BODY_ADVANCE_FEE + BODY_MILLION_USD + BODY_PRIZE >= 3'
score = 1.0
description = "three or more phrases of advance-fee and lottery fraud (with ADVANCE_FEE_PHRASES)"

# --- Attachments -------------------------------------------------------------------------------

[[rule]]
name = "ATTACH_EXECUTABLE"
kind = "check"
check = "attachment_extension"
params = { extensions = ["exe", "scr", "pif", "com", "vbs", "vbe", "jse", "wsf", "wsh", "hta", "lnk", "cpl", "scf", "msi"] }
score = 3.5
description = "an executable attachment"

[[rule]]
name = "ATTACH_SCRIPT"
kind = "check"
check = "attachment_extension"
params = { extensions = ["js", "bat", "cmd", "ps1", "reg", "jar"] }
score = 1.0
description = "a script attachment"

[[rule]]
name = "ATTACH_DOUBLE_EXT"
kind = "check"
check = "attachment_double_extension"
score = 3.0
description = "an executable attachment posing as a document (invoice.pdf.exe)"

[[rule]]
name = "ATTACH_EXEC_TYPE"
kind = "check"
check = "attachment_type"
score = 2.5
description = "an attachment with an executable media type"

[[rule]]
name = "ATTACH_MACRO_DOC"
kind = "check"
check = "attachment_extension"
params = { extensions = ["docm", "xlsm", "pptm", "dotm", "xltm", "xlam", "ppam"] }
score = 1.0
description = "an Office document with macros"

[[rule]]
name = "ATTACH_DISK_IMAGE"
kind = "check"
check = "attachment_extension"
params = { extensions = ["iso", "img", "vhd", "vhdx"] }
score = 1.5
description = "a disk image attachment (used to smuggle executables)"

[[rule]]
name = "ATTACH_HTML"
kind = "check"
check = "attachment_extension"
params = { extensions = ["htm", "html", "shtml", "xhtml", "svg"] }
score = 0.5
description = "an HTML or SVG attachment (local phishing pages)"

# --- Combinations ------------------------------------------------------------------------------

[[rule]]
name = "PHISH_LINK_NO_DMARC"
kind = "meta"
expression = 'LINK_TEXT_MISMATCH && !DMARC_PASS && (BODY_VERIFY_ACCOUNT || BODY_ACCOUNT_SUSPENDED)'
score = 1.5
description = "disguised link asking to verify an account, From domain not authenticated"

[[rule]]
name = "PHISH_FORM"
kind = "meta"
expression = '__HTML_FORM && (BODY_VERIFY_ACCOUNT || BODY_ACCOUNT_SUSPENDED) && !DMARC_PASS'
score = 1.0
description = "a form asking to verify an account, From domain not authenticated"

[[rule]]
name = "SHORTENER_NO_DKIM"
kind = "meta"
expression = 'URL_SHORTENER && !DKIM_VALID'
score = 0.5
description = "URL shortener in unsigned mail"

[[rule]]
name = "HEADERS_SLOPPY"
kind = "meta"
expression = 'MISSING_DATE + MISSING_MID + BAD_DATE + BAD_MID + MIME_NO_VERSION + FROM_NO_DOMAIN >= 2'
score = 1.0
description = "several header problems at once (a spam tool, not a mail client)"

[[rule]]
name = "HELO_FORGED_NO_SPF"
kind = "meta"
expression = '(HELO_IS_OURS || HELO_LOCALHOST || HELO_IP_MISMATCH) && !SPF_PASS'
score = 1.0
description = "a forged HELO from a host SPF did not approve"

[[rule]]
name = "FREEMAIL_REPLY_FRAUD"
kind = "meta"
expression = 'REPLY_TO_FREEMAIL && (BODY_GIFT_CARD || BODY_ADVANCE_FEE || BODY_PRIZE)'
score = 1.0
description = "fraud phrases with replies diverted to freemail"

# --- DNS block lists (queried by dnsbl.ts) -----------------------------------------------------

[[rule]]
name = "RCVD_IN_ZEN"
kind = "dnsbl"
zone = "zen.spamhaus.org"
target = "ip"
answers = { "127.0.0.2" = 2.5, "127.0.0.3" = 1.5, "127.0.0.4-7" = 2.0, "127.0.0.9" = 3.0, "127.0.0.10-11" = 1.5 }
description = "client listed in Spamhaus ZEN (SBL, CSS, XBL, DROP, PBL; listings add up)"

[[rule]]
name = "RCVD_IN_SPAMCOP"
kind = "dnsbl"
zone = "bl.spamcop.net"
target = "ip"
answers = { "127.0.0.2" = 1.5 }
description = "client listed in SpamCop"

[[rule]]
name = "URIBL_DBL"
kind = "uribl"
zone = "dbl.spamhaus.org"
target = "uri"
answers = { "127.0.1.2" = 2.5, "127.0.1.3" = 1.0, "127.0.1.4-6" = 3.0 }
description = "a link domain listed in Spamhaus DBL"

[[rule]]
name = "SENDER_IN_DBL"
kind = "uribl"
zone = "dbl.spamhaus.org"
target = "sender"
answers = { "127.0.1.2" = 2.0, "127.0.1.3" = 1.0, "127.0.1.4-6" = 2.5 }
description = "the sender domain is listed in Spamhaus DBL"

[[rule]]
name = "URIBL_SURBL"
kind = "uribl"
zone = "multi.surbl.org"
target = "uri"
answers = { "127.0.0.2-255" = 2.0 }
description = "a link domain listed in SURBL (127.0.0.1 means the query was refused)"
`;
