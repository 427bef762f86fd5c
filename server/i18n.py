"""UI strings of the mobile continue page (the guide's own text comes from the guide)."""

from __future__ import annotations

from contract.languages import NATIVE_NAMES, is_rtl

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "continue": "Continued from the kiosk", "path": "Your answers so far", "language": "Language",
        "resolved": "We hope this solved it.", "escalate": "Please ask a member of staff for help.",
        "helped": "Did this help?", "yes": "Yes", "no": "No", "rating": "Your rating (1 = poor, 5 = great)",
        "comment": "Comment (optional)", "comment_hint": "Please leave out names, e-mail addresses and phone numbers.",
        "send": "Send feedback", "thanks": "Thank you for your feedback!", "your_comment": "Your comment",
        "start_over": "Start again", "bad_link": "This link is not valid.",
        "bad_link_hint": "Scan the QR code on the kiosk again.", "gone": "This page is not available.",
        "choose": "Choose an answer", "no_rating": "No rating",
        "expired": 'This link has expired.', "busy": 'Too many requests from this page. Please wait a few minutes and try again.',
        "already": 'We already have your feedback on this. Thank you!',
    },
    "es": {
        "continue": "Continuación desde el quiosco", "path": "Sus respuestas hasta ahora", "language": "Idioma",
        "resolved": "Esperamos que esto lo haya resuelto.", "escalate": "Pida ayuda a un miembro del personal.",
        "helped": "¿Le ha ayudado?", "yes": "Sí", "no": "No", "rating": "Su valoración (1 = mala, 5 = excelente)",
        "comment": "Comentario (opcional)", "comment_hint": "No incluya nombres, correos electrónicos ni teléfonos.",
        "send": "Enviar opinión", "thanks": "¡Gracias por su opinión!", "your_comment": "Su comentario",
        "start_over": "Empezar de nuevo", "bad_link": "Este enlace no es válido.",
        "bad_link_hint": "Vuelva a escanear el código QR del quiosco.", "gone": "Esta página no está disponible.",
        "choose": "Elija una respuesta", "no_rating": "Sin valoración",
        "expired": 'Este enlace ha caducado.', "busy": 'Demasiadas solicitudes desde esta página. Espere unos minutos y vuelva a intentarlo.',
        "already": 'Ya tenemos su opinión sobre esto. ¡Gracias!',
    },
    "fr": {
        "continue": "Suite depuis la borne", "path": "Vos réponses jusqu'ici", "language": "Langue",
        "resolved": "Nous espérons que cela a réglé le problème.",
        "escalate": "Veuillez demander de l'aide à un membre du personnel.",
        "helped": "Cela vous a-t-il aidé ?", "yes": "Oui", "no": "Non",
        "rating": "Votre note (1 = mauvais, 5 = excellent)", "comment": "Commentaire (facultatif)",
        "comment_hint": "N'indiquez ni nom, ni e-mail, ni numéro de téléphone.", "send": "Envoyer l'avis",
        "thanks": "Merci pour votre avis !", "your_comment": "Votre commentaire", "start_over": "Recommencer",
        "bad_link": "Ce lien n'est pas valide.", "bad_link_hint": "Scannez à nouveau le code QR de la borne.",
        "gone": "Cette page n'est pas disponible.", "choose": "Choisissez une réponse", "no_rating": "Pas de note",
        "expired": 'Ce lien a expiré.', "busy": 'Trop de demandes depuis cette page. Patientez quelques minutes puis réessayez.',
        "already": 'Nous avons déjà votre avis à ce sujet. Merci !',
    },
    "de": {
        "continue": "Fortsetzung vom Kiosk", "path": "Ihre bisherigen Antworten", "language": "Sprache",
        "resolved": "Wir hoffen, das hat geholfen.", "escalate": "Bitte wenden Sie sich an einen Mitarbeiter.",
        "helped": "Hat Ihnen das geholfen?", "yes": "Ja", "no": "Nein",
        "rating": "Ihre Bewertung (1 = schlecht, 5 = sehr gut)", "comment": "Kommentar (freiwillig)",
        "comment_hint": "Bitte keine Namen, E-Mail-Adressen oder Telefonnummern angeben.",
        "send": "Feedback senden", "thanks": "Vielen Dank für Ihr Feedback!", "your_comment": "Ihr Kommentar",
        "start_over": "Neu beginnen", "bad_link": "Dieser Link ist ungültig.",
        "bad_link_hint": "Scannen Sie den QR-Code am Kiosk erneut.", "gone": "Diese Seite ist nicht verfügbar.",
        "choose": "Wählen Sie eine Antwort", "no_rating": "Keine Bewertung",
        "expired": 'Dieser Link ist abgelaufen.', "busy": 'Zu viele Anfragen von dieser Seite. Bitte warten Sie einige Minuten.',
        "already": 'Wir haben Ihr Feedback dazu bereits erhalten. Danke!',
    },
    "zh": {
        "continue": "从自助终端继续", "path": "您目前的选择", "language": "语言",
        "resolved": "希望问题已经解决。", "escalate": "请向工作人员寻求帮助。",
        "helped": "这对您有帮助吗？", "yes": "是", "no": "否", "rating": "您的评分（1 = 差，5 = 很好）",
        "comment": "意见（可选）", "comment_hint": "请不要填写姓名、电子邮件或电话号码。",
        "send": "提交反馈", "thanks": "感谢您的反馈！", "your_comment": "您的意见",
        "start_over": "重新开始", "bad_link": "此链接无效。", "bad_link_hint": "请重新扫描终端上的二维码。",
        "gone": "此页面不可用。", "choose": "请选择一个答案", "no_rating": "不评分",
        "expired": '此链接已过期。', "busy": '此页面的请求过多。请等待几分钟后再试。',
        "already": '我们已经收到您对此的反馈。谢谢！',
    },
    "ar": {
        "continue": "متابعة من الكشك", "path": "إجاباتك حتى الآن", "language": "اللغة",
        "resolved": "نأمل أن يكون هذا قد حل المشكلة.", "escalate": "يرجى طلب المساعدة من أحد الموظفين.",
        "helped": "هل ساعدك هذا؟", "yes": "نعم", "no": "لا", "rating": "تقييمك (1 = ضعيف، 5 = ممتاز)",
        "comment": "تعليق (اختياري)", "comment_hint": "يرجى عدم كتابة الأسماء أو عناوين البريد أو أرقام الهاتف.",
        "send": "إرسال الرأي", "thanks": "شكرًا لك على رأيك!", "your_comment": "تعليقك",
        "start_over": "البدء من جديد", "bad_link": "هذا الرابط غير صالح.",
        "bad_link_hint": "امسح رمز QR على الكشك مرة أخرى.", "gone": "هذه الصفحة غير متاحة.",
        "choose": "اختر إجابة", "no_rating": "بدون تقييم",
        "expired": 'انتهت صلاحية هذا الرابط.', "busy": 'طلبات كثيرة جدًا من هذه الصفحة. يرجى الانتظار بضع دقائق ثم المحاولة مرة أخرى.',
        "already": 'لقد تلقينا رأيك في هذا بالفعل. شكرًا لك!',
    },
}

LANGUAGE_NAMES = NATIVE_NAMES


def ui_language(lang: str) -> str:
    base = (lang or "en").split("-")[0]
    return base if base in STRINGS else "en"


# Said on the phone when its feedback cannot be stored just now (the server's disk is full).
NOT_SAVED = {
    "en": "Your feedback could not be saved just now. Please try again in a few minutes.",
    "es": "No se ha podido guardar su opinión en este momento. Inténtelo de nuevo en unos minutos.",
    "fr": "Votre avis n'a pas pu être enregistré pour le moment. Réessayez dans quelques minutes.",
    "de": "Ihre Rückmeldung konnte gerade nicht gespeichert werden. Bitte versuchen Sie es in einigen Minuten erneut.",
    "zh": "您的反馈暂时无法保存。请过几分钟再试。",
    "ar": "تعذّر حفظ ملاحظاتك الآن. يرجى المحاولة مرة أخرى بعد بضع دقائق.",
}
for _code, _text in NOT_SAVED.items():
    STRINGS[_code]["not_saved"] = _text

def strings(lang: str) -> dict[str, str]:
    return STRINGS[ui_language(lang)]


def direction(lang: str) -> str:
    return "rtl" if is_rtl(lang) else "ltr"
